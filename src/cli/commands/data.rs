//! `nnc data fetch NAME`: downloads a built-in dataset into the cache folder (see
//! `data/download.rs`) and prints the folder it is in.

use std::io::IsTerminal;

use crate::cli::args::DataCommand;
use crate::data::{Builtin, DataError};

pub fn run(command: &DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Fetch { name } => {
            // A name we do not know is a usage error (exit 2), not a failure at run time.
            if Builtin::from_name(name).is_none() {
                return Err(crate::Error::Usage(
                    DataError::UnknownDataset(name.clone()).to_string(),
                )
                .into());
            }
            let progress = std::io::stderr().is_terminal();
            let dir = crate::data::fetch(name, progress).map_err(crate::Error::from)?;
            println!("{}", dir.display());
            Ok(())
        }
    }
}
