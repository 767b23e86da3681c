//! Kernels: the arithmetic, on plain slices and sizes.
//!
//! Kernels never see tape nodes or shapes; the autodiff layer calls them with buffers it
//! owns. Matrix products go through [`gemm::gemm`] (the crate's only `sgemm` call);
//! element-wise work through [`simd`] (`wide::f32x8`, eight lanes); row-wise reductions
//! (softmax, sums) through [`reduce`]. Large products are cut into bands of rows that
//! run on rayon's pool ([`on_worker_pool`]); every output element is still summed by one
//! thread in one order, so results never depend on the thread count.
//!
//! The layers of convolutional networks, on `[batch, c, h, w]` images: [`conv`] (im2col
//! and products; its geometry in [`conv_shape`], its copies in [`im2col`], a direct path
//! for one input channel in [`conv_direct`]), [`pool`] (max, average, global average) and
//! [`batchnorm`]. Flatten needs no kernel: `[c, h, w]` is already in memory as `[c·h·w]`.
//! They take caller-provided scratch (sized by the shape's `*_len` functions) and
//! allocate nothing; backward kernels add into gradients.

pub mod batchnorm;
pub mod conv;
pub mod conv_direct;
pub mod conv_shape;
pub mod gemm;
pub mod im2col;
pub mod pool;
pub mod reduce;
pub mod simd;

pub use gemm::{MatRef, gemm, gemm_scaled};

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
