//! The `nnc` binary: parse flags, dispatch, pick the exit code. Everything else is in the
//! library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = nnc::cli::Args::parse(); // clap reports bad flags itself, with exit 2
    nnc::cli::main(args)
}
