//! `nnc data fetch NAME`: downloads a built-in dataset into the cache folder (see
//! `data/download.rs`) and prints the folder it is in.

use std::io::IsTerminal;

use crate::cli::args::DataCommand;

pub fn run(command: &DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Fetch { name } => {
            let progress = std::io::stderr().is_terminal();
            let dir = crate::data::fetch(name, progress).map_err(crate::Error::from)?;
            println!("{}", dir.display());
            Ok(())
        }
    }
}
