//! Kernels: the arithmetic, on plain slices and sizes.
//!
//! Kernels never see tape nodes or shapes; the autodiff layer calls them with buffers it
//! owns. Matrix products go through [`gemm::gemm`] (nnc's packed kernels, chosen at run
//! time, with the same bits on every CPU; `matrixmultiply` where neither runs);
//! element-wise work through [`simd`] (`wide::f32x16`: one 512-bit register on an
//! AVX-512 build, two 256-bit halves on AVX2); row-wise reductions (softmax, sums)
//! through [`reduce`]. The convolution, pooling and batch-norm kernels keep
//! `wide::f32x8`: their tiling and summation orders are built on eight lanes. Large
//! products are cut into bands of rows that run on rayon's pool ([`pool`]); every output
//! element is still summed by one thread in one order, so results never depend on the
//! thread count.
//!
//! The layers of convolutional networks, on `[batch, c, h, w]` images: [`conv`] (im2col
//! and products; its geometry in [`conv_shape`], its copies in [`im2col`], a direct path
//! for one input channel in [`conv_direct`], depthwise layers in [`conv_depthwise`]), [`pooling`] (max, average, global average) and
//! [`batchnorm`]. Flatten needs no kernel: `[c, h, w]` is already in memory as `[c·h·w]`.
//! They take caller-provided scratch (sized by the shape's `*_len` functions) and
//! allocate nothing; backward kernels add into gradients.

pub mod batchnorm;
pub mod conv;
pub mod conv_depthwise;
pub mod conv_direct;
pub mod conv_shape;
pub mod gemm;
pub mod im2col;
pub mod pooling;
pub mod reduce;
pub mod simd;
pub mod workers;

#[cfg(test)]
pub(crate) mod test_values {
    //! Seeded operands for the kernels' tests.

    /// Values in [-1, 1) from a seed (xorshift).
    pub fn filled(len: usize, seed: u64) -> Vec<f32> {
        with_zeros(len, seed, 0.0)
    }

    /// [`filled`]'s values, those in the lowest `zeros` share of [-1, 1) replaced by 0
    /// (sparse operands, as post-ReLU activations and MNIST's pixels are).
    pub fn with_zeros(len: usize, seed: u64, zeros: f32) -> Vec<f32> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let v = (state % 20_000) as f32 / 10_000.0 - 1.0;
                if (v + 1.0) / 2.0 < zeros { 0.0 } else { v }
            })
            .collect()
    }
}

pub use gemm::{Isa, MatRef, detected_isa, gemm, gemm_scaled};
pub use workers::on_worker_pool;

/// The SIMD instructions the kernels run on, for reports that give a speed: a number means
/// little without them (`nnc bench`, `benches/race.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstructionSets {
    /// Element-wise kernels, softmax and the zero-skipping product ([`simd`],
    /// `wide::f32x16`): chosen when nnc is compiled (`.cargo/config.toml` builds with
    /// `target-cpu=native`).
    pub wide: &'static str,
    /// `matrixmultiply::sgemm`: chosen at run time from the CPU's features. It takes the
    /// dense products only where [`InstructionSets::products`] says so.
    pub matrixmultiply: &'static str,
    /// Who computes the dense products: nnc's own packed kernel and its instruction set,
    /// chosen at run time ([`detected_isa`]), or the portable `matrixmultiply`.
    pub products: &'static str,
}

/// What this build and this CPU use; see [`InstructionSets`].
pub fn instruction_sets() -> InstructionSets {
    InstructionSets {
        wide: wide_instructions(),
        matrixmultiply: matrixmultiply_instructions(),
        products: match detected_isa() {
            Some(Isa::Avx512) => "nnc AVX-512",
            Some(Isa::Avx2Fma) => "nnc AVX2+FMA",
            None => "matrixmultiply",
        },
    }
}

/// `wide::f32x16` is one `zmm` register on an AVX-512 build; otherwise two `ymm` halves
/// on AVX (FMA fuses `mul_add`), or four SSE quarters below AVX.
fn wide_instructions() -> &'static str {
    if cfg!(target_feature = "avx512f") {
        "AVX-512"
    } else if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        "AVX2+FMA"
    } else if cfg!(all(target_feature = "avx", target_feature = "fma")) {
        "AVX+FMA"
    } else if cfg!(target_feature = "avx") {
        "AVX"
    } else if cfg!(target_feature = "sse2") {
        "SSE2"
    } else if cfg!(target_feature = "neon") {
        "NEON"
    } else {
        "scalar"
    }
}

/// The kernel `matrixmultiply` 0.3 picks for `f32` (its `sgemm_kernel::detect`): AVX-512F
/// first (its default `avx512` feature, which nnc keeps, on Rust 1.89 or later), then
/// AVX2 with FMA, then AVX; otherwise its portable kernel, which the compiler vectorises
/// for the baseline (SSE2 on x86-64).
#[cfg(target_arch = "x86_64")]
fn matrixmultiply_instructions() -> &'static str {
    if std::arch::is_x86_feature_detected!("avx512f") {
        "AVX-512"
    } else if std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("avx2")
    {
        "AVX2+FMA"
    } else if std::arch::is_x86_feature_detected!("avx") {
        "AVX"
    } else {
        "SSE2"
    }
}

#[cfg(target_arch = "aarch64")]
fn matrixmultiply_instructions() -> &'static str {
    if std::arch::is_aarch64_feature_detected!("neon") {
        "NEON"
    } else {
        "scalar"
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn matrixmultiply_instructions() -> &'static str {
    "scalar"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instruction_sets_follow_the_build_and_the_cpu() {
        let sets = instruction_sets();
        #[cfg(target_feature = "avx512f")]
        assert_eq!(sets.wide, "AVX-512");
        #[cfg(all(
            target_feature = "avx2",
            target_feature = "fma",
            not(target_feature = "avx512f")
        ))]
        assert_eq!(sets.wide, "AVX2+FMA");
        #[cfg(not(target_feature = "avx"))]
        assert!(matches!(sets.wide, "SSE2" | "NEON" | "scalar"), "{sets:?}");
        #[cfg(target_arch = "x86_64")]
        {
            // A build for this CPU cannot use more than the CPU has: AVX2 compiled in
            // means the run-time check finds it too.
            if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
                assert!(
                    matches!(sets.matrixmultiply, "AVX2+FMA" | "AVX-512"),
                    "{sets:?}"
                );
            }
            assert_eq!(
                sets.matrixmultiply == "AVX-512",
                std::arch::is_x86_feature_detected!("avx512f")
            );
        }
    }
}
