//! The `nnc` binary: parse flags, dispatch, pick the exit code. Everything else is in the
//! library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = nnc::cli::Args::parse(); // clap reports bad flags itself, with exit 2
    if let Some(threads) = args.threads() {
        // matrixmultiply reads MATMUL_NUM_THREADS once, at the first product, so it must
        // be set before any work starts.
        // SAFETY: nothing has spawned a thread yet (we are at the top of `main`, before
        // any command runs), so no other thread can be reading the environment.
        unsafe { std::env::set_var("MATMUL_NUM_THREADS", threads.to_string()) };
    }
    nnc::cli::main(args)
}
