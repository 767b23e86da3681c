//! The `nnc` binary: parse flags, dispatch, pick the exit code. Everything else is in the
//! library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any kernel runs: a binary built for another CPU would die of an illegal
    // instruction instead of saying why.
    if let Err(message) = nnc::cli::machine::check_build_fits_cpu() {
        eprintln!("{message}");
        return ExitCode::from(1);
    }
    let args = nnc::cli::Args::parse(); // clap reports bad flags itself, with exit 2
    let threads = args.threads().map(usize::from);
    // `--threads` is the size of the pool every product's bands run on.
    nnc::kernels::on_worker_pool(threads, || nnc::cli::main(args))
}
