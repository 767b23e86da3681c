//! `nnc data fetch`. STUB.

use crate::cli::args::DataCommand;

pub fn run(command: &DataCommand) -> anyhow::Result<()> {
    let _ = command;
    anyhow::bail!("`nnc data` is not implemented yet")
}
