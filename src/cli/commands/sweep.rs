//! `nnc sweep`. STUB.

use crate::cli::args::RunArgs;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("`nnc sweep` is not implemented yet")
}
