//! The command line: typed flags (`args.rs`), model loading and flag + `train` block
//! resolution (`config.rs`), one file per command (`commands/`), what they produce
//! (`outcome.rs`: the reports that records, `record.rs`, and pictures, `plot/`, read),
//! and the single place where an error (`error.rs`) becomes an exit status.

pub mod args;
pub mod commands;
pub mod config;
pub mod error;
pub mod machine;
pub mod outcome;
pub mod plot;
pub mod record;
pub mod resume;

use std::process::ExitCode;

pub use args::Args;
pub use error::Error;

use args::Command;

/// Runs one command and maps its outcome to the exit status of the CLI contract:
/// 0 success, 1 failure at run time, 2 usage or model error.
pub fn main(args: Args) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS, // `nnc show m.nn | head`
        Err(err) => {
            match err.downcast_ref::<crate::Error>() {
                // Diagnostics are rendered already: print them as they are.
                Some(crate::Error::Model(diagnostics)) => eprint!("{diagnostics}"),
                Some(crate::Error::Located(rendered)) => eprintln!("{rendered}"),
                _ => eprintln!("error: {err:#}"),
            }
            ExitCode::from(
                err.downcast_ref::<crate::Error>()
                    .map_or(1, crate::Error::exit_code),
            )
        }
    }
}

/// Dispatches to the command's module.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Run(a) => commands::run::run(&a),
        Command::Check(a) => commands::check::run(&a),
        Command::Show(a) => commands::show::run(&a),
        Command::Eval(a) => commands::eval::run(&a),
        Command::Export(a) => commands::export::run(&a),
        Command::Predict(a) => commands::predict::run(&a),
        Command::Sweep(a) => commands::sweep::run(&a),
        Command::Bench(a) => commands::bench::run(&a),
        Command::Gradcheck(a) => commands::gradcheck::run(&a),
        Command::Report(a) => commands::report::run(&a),
        Command::Data(c) => commands::data::run(&c),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
