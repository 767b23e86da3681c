//! `nnc bench`. STUB.

use crate::cli::args::BenchArgs;

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("`nnc bench` is not implemented yet")
}
