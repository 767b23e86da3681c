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
    // The zero-skipping products hand bands of rows to rayon's pool. Running the command
    // on one of the pool's threads lets that thread work on a band itself while the other
    // threads take the rest, instead of sleeping until they are done. The stack is as big
    // as the main thread's, which the front end's nesting limits were chosen for.
    let threads = args.threads().map(usize::from).unwrap_or(0); // 0: rayon's default, all cores
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(8 << 20)
        .build()
    {
        Ok(pool) => pool.install(|| nnc::cli::main(args)),
        Err(_) => nnc::cli::main(args),
    }
}
