//! `nnc show`. STUB.

use crate::cli::args::CheckArgs;

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("`nnc show` is not implemented yet")
}
