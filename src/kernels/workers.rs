//! The worker pool: `--threads` persistent threads (rayon's), on which the command runs
//! and among which large products and element-wise kernels share their work.

/// Runs `work` on a pool of `threads` worker threads (all cores when `None`), started on
/// one of the pool's own threads: the products' bands then run on that thread and the
/// others, instead of the caller sleeping while the pool works. The stack is as large as a
/// main thread's, which the front end's nesting limits were chosen for. Without a pool
/// (the pool cannot start), `work` runs here and the products still use rayon's global one.
pub fn on_worker_pool<R: Send>(threads: Option<usize>, work: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0)) // 0: rayon's default, all cores
        .stack_size(8 << 20)
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// Bands a large product is cut into: the threads of the pool it runs on (`--threads`,
/// see [`on_worker_pool`]), else of rayon's global pool (all cores).
pub(crate) fn worker_threads() -> usize {
    rayon::current_num_threads().clamp(1, 64)
}
