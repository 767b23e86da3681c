//! `nnc gradcheck`. STUB.

use crate::cli::args::RunArgs;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("`nnc gradcheck` is not implemented yet")
}
