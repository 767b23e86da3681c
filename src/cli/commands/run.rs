//! `nnc run`. STUB.

use crate::cli::args::RunArgs;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("`nnc run` is not implemented yet")
}
