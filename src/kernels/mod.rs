//! Kernels: the arithmetic, on plain slices and sizes.
//!
//! Kernels never see tape nodes or shapes; the autodiff layer calls them with buffers it
//! owns. Matrix products go through [`gemm::gemm`] (the crate's only `sgemm` call);
//! element-wise work through [`simd`] (`wide::f32x8`, eight lanes); row-wise reductions
//! (softmax, sums) through [`reduce`]. Large products are cut into bands of rows that
//! run on rayon's pool ([`pool`]); every output element is still summed by one
//! thread in one order, so results never depend on the thread count.

pub mod conv;
pub mod gemm;
pub mod im2col;
pub mod pool;
pub mod pooling;
pub mod reduce;
pub mod simd;

pub use gemm::{MatRef, gemm, gemm_scaled};
pub use pool::on_worker_pool;
