//! The `nnc` binary: parse flags, dispatch, pick the exit code. Everything else is in the
//! library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = nnc::cli::Args::parse(); // clap reports bad flags itself, with exit 2
    let threads = args.threads().map(usize::from);
    // `--threads` is the size of the pool every product's bands run on.
    nnc::kernels::on_worker_pool(threads, || nnc::cli::main(args))
}
