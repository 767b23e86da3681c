//! Element-wise kernels, sixteen lanes at a time with `wide::f32x16`: one 512-bit register
//! where the build targets AVX-512, two 256-bit halves on AVX2 (where the two independent
//! halves also measured faster than one `f32x8` with `wide`'s `exp`: 64×256 values in
//! 17.8 → 15.7 µs, `cargo bench --bench kernels -- elementwise/exp` on a Zen 3).
//!
//! Every kernel runs the same vector code on the tail: the last `len % LANES` elements are
//! copied into a zero-padded `[f32; LANES]`, so an element's result never depends on where
//! it sits in the buffer (or on the batch size). Backward kernels *accumulate* into the
//! gradient (`grad_x += ...`): an input may feed several nodes.
//!
//! Its length (273 lines of code, 208 of tests) is the kernel with the tests that pin
//! its bits, which reach its private helpers: kept in one file on purpose.

use wide::f32x16;

/// The vector type of the element-wise kernels, and its lane count.
pub type Lanes = f32x16;
pub const LANES: usize = 16;

/// `out[i] = f(x[i])`, every element by the same operations wherever it sits (a tail
/// is padded to a whole vector), so its bits depend on neither the length nor the
/// threads. An element-wise op writes its kernel with it, in its own file.
#[inline]
pub fn map(x: &[f32], out: &mut [f32], f: impl Fn(Lanes) -> Lanes + Sync) {
    assert_eq!(x.len(), out.len(), "element-wise kernel: lengths differ");
    if x.len() >= 2 * PARALLEL_CHUNK && rayon::current_num_threads() > 1 {
        // A large activation (a batch of 1000 × 256) is shared by the worker pool in
        // chunks of whole vectors: every value is computed as it would be on one thread.
        use rayon::prelude::*;
        x.par_chunks(PARALLEL_CHUNK)
            .zip(out.par_chunks_mut(PARALLEL_CHUNK))
            .for_each(|(x, out)| map_on_one_thread(x, out, &f));
        return;
    }
    map_on_one_thread(x, out, f);
}

/// Elements per chunk when [`map`] splits its work (a multiple of the vector width).
const PARALLEL_CHUNK: usize = 1 << 15;

#[inline(always)]
fn map_on_one_thread(x: &[f32], out: &mut [f32], f: impl Fn(Lanes) -> Lanes) {
    let (x_vectors, x_tail) = x.as_chunks::<LANES>();
    let (o_vectors, o_tail) = out.as_chunks_mut::<LANES>();
    for (xs, os) in x_vectors.iter().zip(o_vectors) {
        *os = f(Lanes::new(*xs)).to_array();
    }
    if !x_tail.is_empty() {
        let mut xs = [0.0; LANES];
        xs[..x_tail.len()].copy_from_slice(x_tail);
        let ys = f(Lanes::new(xs)).to_array();
        o_tail.copy_from_slice(&ys[..o_tail.len()]);
    }
}

/// `out[i] = f(a[i], b[i], out[i])`: covers both `out = a ∘ b` and `out += a ∘ b` (a
/// backward rule's `grad_x += grad_y · f′(x)`).
#[inline(always)]
pub fn zip2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(Lanes, Lanes, Lanes) -> Lanes) {
    assert_eq!(a.len(), out.len(), "element-wise kernel: lengths differ");
    assert_eq!(b.len(), out.len(), "element-wise kernel: lengths differ");
    let (a_vectors, a_tail) = a.as_chunks::<LANES>();
    let (b_vectors, b_tail) = b.as_chunks::<LANES>();
    let (o_vectors, o_tail) = out.as_chunks_mut::<LANES>();
    for ((as_, bs), os) in a_vectors.iter().zip(b_vectors).zip(o_vectors) {
        *os = f(Lanes::new(*as_), Lanes::new(*bs), Lanes::new(*os)).to_array();
    }
    if !o_tail.is_empty() {
        let (mut as_, mut bs, mut os) = ([0.0; LANES], [0.0; LANES], [0.0; LANES]);
        as_[..a_tail.len()].copy_from_slice(a_tail);
        bs[..b_tail.len()].copy_from_slice(b_tail);
        os[..o_tail.len()].copy_from_slice(o_tail);
        let ys = f(Lanes::new(as_), Lanes::new(bs), Lanes::new(os)).to_array();
        let n = o_tail.len();
        o_tail.copy_from_slice(&ys[..n]);
    }
}

/// `out[i] = f(x[i], out[i])`.
#[inline(always)]
fn update1(x: &[f32], out: &mut [f32], f: impl Fn(Lanes, Lanes) -> Lanes) {
    assert_eq!(x.len(), out.len(), "element-wise kernel: lengths differ");
    let (x_vectors, x_tail) = x.as_chunks::<LANES>();
    let (o_vectors, o_tail) = out.as_chunks_mut::<LANES>();
    for (xs, os) in x_vectors.iter().zip(o_vectors) {
        *os = f(Lanes::new(*xs), Lanes::new(*os)).to_array();
    }
    if !x_tail.is_empty() {
        let (mut xs, mut os) = ([0.0; LANES], [0.0; LANES]);
        xs[..x_tail.len()].copy_from_slice(x_tail);
        os[..o_tail.len()].copy_from_slice(o_tail);
        let ys = f(Lanes::new(xs), Lanes::new(os)).to_array();
        let n = o_tail.len();
        o_tail.copy_from_slice(&ys[..n]);
    }
}

/// `out = a + b`.
pub fn add(a: &[f32], b: &[f32], out: &mut [f32]) {
    zip2(a, b, out, |a, b, _| a + b);
}

/// `out = a - b`.
pub fn sub(a: &[f32], b: &[f32], out: &mut [f32]) {
    zip2(a, b, out, |a, b, _| a - b);
}

/// `out = a ∘ b` (element-wise product).
pub fn mul(a: &[f32], b: &[f32], out: &mut [f32]) {
    zip2(a, b, out, |a, b, _| a * b);
}

/// `out += a ∘ b`.
pub fn mul_acc(a: &[f32], b: &[f32], out: &mut [f32]) {
    zip2(a, b, out, |a, b, o| a.mul_add(b, o));
}

/// `out = alpha·x`.
pub fn scale(alpha: f32, x: &[f32], out: &mut [f32]) {
    let alpha = Lanes::splat(alpha);
    map(x, out, |x| x * alpha);
}

/// `out = x + c`.
pub fn add_scalar(c: f32, x: &[f32], out: &mut [f32]) {
    let c = Lanes::splat(c);
    map(x, out, |x| x + c);
}

/// `y += alpha·x`.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    let alpha = Lanes::splat(alpha);
    update1(x, y, |x, y| x.mul_add(alpha, y));
}

/// `y = y + alpha·x`, the product rounded before the sum (not fused).
pub fn add_product(alpha: f32, x: &[f32], y: &mut [f32]) {
    let alpha = Lanes::splat(alpha);
    update1(x, y, |x, y| y + x * alpha);
}

/// `y += alpha·x`, then `x = 0`, in one pass: a plain SGD step that also clears the
/// gradient for the next step.
pub fn axpy_and_clear(alpha: f32, x: &mut [f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy_and_clear: lengths differ");
    let a = Lanes::splat(alpha);
    let (x_vectors, x_tail) = x.as_chunks_mut::<LANES>();
    let (y_vectors, y_tail) = y.as_chunks_mut::<LANES>();
    for (xs, ys) in x_vectors.iter_mut().zip(y_vectors) {
        *ys = Lanes::new(*xs).mul_add(a, Lanes::new(*ys)).to_array();
        *xs = [0.0; LANES];
    }
    update1(x_tail, y_tail, |x, y| x.mul_add(a, y));
    x_tail.fill(0.0);
}

/// `y += x`.
pub fn add_assign(x: &[f32], y: &mut [f32]) {
    update1(x, y, |x, y| y + x);
}

/// The sum of a vector's sixteen lanes by one fixed tree: lane `i` plus lane `i + 8`,
/// then `+ 4`, `+ 2`, `+ 1`. `wide`'s `reduce_add` adds in a different order on an
/// AVX-512 build (`_mm512_reduce_add_ps`) than on AVX2 (each half, then the halves),
/// which would give the two kinds of machine different bits.
#[inline(always)]
pub fn sum_lanes(x: Lanes) -> f32 {
    let v = x.to_array();
    let h: [f32; 8] = std::array::from_fn(|i| v[i] + v[i + 8]);
    let q: [f32; 4] = std::array::from_fn(|i| h[i] + h[i + 4]);
    (q[0] + q[2]) + (q[1] + q[3])
}

/// `f(i, eˣⁱ)` for each element of `x`, the exponentials by [`exp_lanes`] sixteen at a
/// time: the training path never calls the C library's `expf`, whose variant (and last
/// bit) depends on the CPU and the library version.
#[inline]
pub fn exp_each(x: &[f32], mut f: impl FnMut(usize, f32)) {
    for (chunk, xs) in x.chunks(LANES).enumerate() {
        let mut padded = [0.0; LANES];
        padded[..xs.len()].copy_from_slice(xs);
        let e = exp_lanes(Lanes::new(padded)).to_array();
        for (i, &e) in e[..xs.len()].iter().enumerate() {
            f(chunk * LANES + i, e);
        }
    }
}

/// `ln x` of one value by the vector `ln`, for the reason [`exp_each`] gives.
#[inline]
pub fn ln_one(x: f32) -> f32 {
    Lanes::splat(x).ln().to_array()[0]
}

/// `out = eˣ`.
pub fn exp(x: &[f32], out: &mut [f32]) {
    map(x, out, exp_lanes);
}

/// `eˣ` lane by lane with Cephes' `expf` polynomial, within 1.01 ulp over 60 million
/// arguments. `wide`'s `exp` handles the same ranges with two scalings and six selects
/// and cost about 30 cycles per eight lanes on Zen 3, most of a sigmoid layer's time.
///
/// `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`; `eʳ` from a degree-7 polynomial; `2ⁿ` applied
/// as two exact powers `2^⌊n/2⌋·2^⌈n/2⌉`, so that `n` from −150 (results that round to 0
/// through the subnormals) to 128 (overflow to ∞) needs no special case. NaN stays NaN.
#[inline(always)]
pub fn exp_lanes(x: Lanes) -> Lanes {
    use wide::{bytemuck::cast, i32x16};
    // Beyond these every result is ∞, or rounds to 0.
    let clamped = x.max(Lanes::splat(-104.0)).min(Lanes::splat(89.0));
    let n = (clamped * Lanes::splat(std::f32::consts::LOG2_E)).fast_round_int();
    let nf = Lanes::from_i32x16(n);
    // ln 2 in two parts, the first exact in a few bits, so `n·LN2_HI` is exact.
    let r = nf.mul_neg_add(Lanes::splat(0.693_359_4), clamped);
    let r = nf.mul_neg_add(Lanes::splat(-2.121_944_4e-4), r);
    let p = Lanes::splat(1.987_569_1e-4)
        .mul_add(r, Lanes::splat(1.398_199_9e-3))
        .mul_add(r, Lanes::splat(8.333_452e-3))
        .mul_add(r, Lanes::splat(4.166_579_6e-2))
        .mul_add(r, Lanes::splat(1.666_666_5e-1))
        .mul_add(r, Lanes::splat(0.5));
    let e_r = p.mul_add(r * r, r) + Lanes::ONE;
    let half = n >> 1;
    let pow2 = |k: i32x16| -> Lanes { cast((k + i32x16::splat(127)) << 23) };
    let e = e_r * pow2(half) * pow2(n - half);
    x.is_nan().select(x, e)
}

/// `out = ln x` (NaN for negative `x`, −∞ at 0, as IEEE says).
pub fn ln(x: &[f32], out: &mut [f32]) {
    map(x, out, Lanes::ln);
}

/// `grad_x += grad_y / x`: the derivative of `ln`.
pub fn ln_backward(x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(x, grad_y, grad_x, |x, gy, gx| gx + gy / x);
}

/// `out = 1 / (1 + e⁻ˣ)`.
pub fn sigmoid(x: &[f32], out: &mut [f32]) {
    map(x, out, |x| Lanes::ONE / (Lanes::ONE + exp_lanes(-x)));
}

/// `grad_x += grad_y·y·(1 − y)`, from the saved output `y`.
pub fn sigmoid_backward(y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(y, grad_y, grad_x, |y, gy, gx| {
        (gy * y).mul_add(Lanes::ONE - y, gx)
    });
}

/// `out = tanh x`.
pub fn tanh(x: &[f32], out: &mut [f32]) {
    map(x, out, Lanes::tanh);
}

/// `grad_x += grad_y·(1 − y²)`, from the saved output `y`.
pub fn tanh_backward(y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(y, grad_y, grad_x, |y, gy, gx| {
        gy.mul_add(y.mul_neg_add(y, Lanes::ONE), gx)
    });
}

/// `out = max(x, 0)`.
pub fn relu(x: &[f32], out: &mut [f32]) {
    map(x, out, |x| x.max(Lanes::ZERO));
}

/// `grad_x += grad_y·[x > 0]`.
pub fn relu_backward(x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(x, grad_y, grad_x, |x, gy, gx| {
        gx + x.simd_gt(Lanes::ZERO).select(gy, Lanes::ZERO)
    });
}

/// `out = x` for `x > 0`, `slope·x` otherwise.
pub fn leaky_relu(slope: f32, x: &[f32], out: &mut [f32]) {
    let slope = Lanes::splat(slope);
    map(x, out, |x| x.simd_gt(Lanes::ZERO).select(x, x * slope));
}

/// `grad_x += grad_y·(x > 0 ? 1 : slope)`.
pub fn leaky_relu_backward(slope: f32, x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    let slope = Lanes::splat(slope);
    zip2(x, grad_y, grad_x, |x, gy, gx| {
        gx + x.simd_gt(Lanes::ZERO).select(gy, gy * slope)
    });
}

/// Adds `bias` (`[cols]`) to every row of `y` (`[rows, cols]`).
pub fn bias_add(bias: &[f32], y: &mut [f32]) {
    if bias.is_empty() {
        return;
    }
    for row in y.chunks_exact_mut(bias.len()) {
        add_assign(bias, row);
    }
}

/// `out[j] += Σᵢ x[i, j]`: the column sums of `x` (`[rows, cols]`), the gradient of a
/// bias broadcast over rows.
pub fn column_sum_acc(x: &[f32], out: &mut [f32]) {
    if out.is_empty() {
        return;
    }
    for row in x.chunks_exact(out.len()) {
        add_assign(row, out);
    }
}

/// `true` when no element is NaN or infinite.
pub fn all_finite(x: &[f32]) -> bool {
    x.iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_map_split_across_threads_matches_one_thread() {
        let x: Vec<f32> = (0..(5 * PARALLEL_CHUNK + 13))
            .map(|i| ((i * 7919) % 2000) as f32 / 100.0 - 10.0)
            .collect();
        let mut split = vec![f32::NAN; x.len()];
        let mut whole = vec![f32::NAN; x.len()];
        sigmoid(&x, &mut split);
        map_on_one_thread(&x, &mut whole, |x| {
            Lanes::ONE / (Lanes::ONE + exp_lanes(-x))
        });
        assert!(
            split
                .iter()
                .zip(&whole)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Lengths that straddle the vector width: 0, 1, 7–9, 15–17 and large.
    fn values(range: std::ops::Range<f32>) -> impl Strategy<Value = Vec<f32>> {
        prop_oneof![
            vec(range.clone(), 0..=1),
            vec(range.clone(), 7..=9),
            vec(range.clone(), 15..=17),
            vec(range.clone(), 10..40),
            vec(range, 1000..1100),
        ]
    }

    fn pair(range: std::ops::Range<f32>) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        values(range.clone()).prop_flat_map(move |a| {
            let n = a.len();
            (Just(a), vec(range.clone(), n))
        })
    }

    /// Relative error against an f64 reference, with an absolute floor for values near 0.
    fn close(got: f32, want: f64, rel: f64, abs: f64) -> bool {
        let err = (got as f64 - want).abs();
        err <= abs || err <= rel * want.abs() || (got.is_infinite() && want.is_infinite())
    }

    proptest! {
        #[test]
        fn binary_kernels_match_scalar((a, b) in pair(-10.0..10.0), alpha in -3.0f32..3.0) {
            let n = a.len();
            let mut out = vec![0.0; n];
            add(&a, &b, &mut out);
            for i in 0..n { prop_assert_eq!(out[i], a[i] + b[i]); }
            sub(&a, &b, &mut out);
            for i in 0..n { prop_assert_eq!(out[i], a[i] - b[i]); }
            mul(&a, &b, &mut out);
            for i in 0..n { prop_assert_eq!(out[i], a[i] * b[i]); }
            scale(alpha, &a, &mut out);
            for i in 0..n { prop_assert_eq!(out[i], alpha * a[i]); }
            add_scalar(alpha, &a, &mut out);
            for i in 0..n { prop_assert_eq!(out[i], a[i] + alpha); }
            let mut y = b.clone();
            axpy(alpha, &a, &mut y);
            for i in 0..n { prop_assert!(close(y[i], alpha as f64 * a[i] as f64 + b[i] as f64, 1e-6, 1e-5)); }
            let (mut x, mut y) = (a.clone(), b.clone());
            axpy_and_clear(alpha, &mut x, &mut y);
            for i in 0..n { prop_assert!(close(y[i], alpha as f64 * a[i] as f64 + b[i] as f64, 1e-6, 1e-5)); prop_assert_eq!(x[i], 0.0); }
            let mut y = b.clone();
            add_assign(&a, &mut y);
            for i in 0..n { prop_assert_eq!(y[i], a[i] + b[i]); }
            let mut y = b.clone();
            mul_acc(&a, &a, &mut y);
            for i in 0..n { prop_assert!(close(y[i], (a[i] as f64).powi(2) + b[i] as f64, 1e-6, 1e-5)); }
        }

        #[test]
        fn transcendental_kernels_are_within_a_few_ulps(x in values(-30.0..30.0)) {
            let n = x.len();
            let mut out = vec![0.0; n];
            exp(&x, &mut out);
            for i in 0..n { prop_assert!(close(out[i], (x[i] as f64).exp(), 1e-6, 0.0), "exp({}) = {}", x[i], out[i]); }
            sigmoid(&x, &mut out);
            for i in 0..n {
                let want = 1.0 / (1.0 + (-(x[i] as f64)).exp());
                prop_assert!(close(out[i], want, 1e-6, 1e-30), "sigmoid({}) = {} want {want}", x[i], out[i]);
            }
            tanh(&x, &mut out);
            for i in 0..n { prop_assert!(close(out[i], (x[i] as f64).tanh(), 1e-6, 1e-30), "tanh({}) = {}", x[i], out[i]); }
            let positive: Vec<f32> = x.iter().map(|v| v.abs() + 1e-3).collect();
            ln(&positive, &mut out);
            for i in 0..n { prop_assert!(close(out[i], (positive[i] as f64).ln(), 1e-6, 1e-7), "ln({}) = {}", positive[i], out[i]); }
        }

        /// Over the whole range where eˣ is a normal float, and through the subnormals
        /// (where an absolute error of one subnormal step is all a float can do).
        #[test]
        fn exp_is_accurate_over_the_whole_range(x in values(-104.0..88.7)) {
            let mut out = vec![0.0; x.len()];
            exp(&x, &mut out);
            for i in 0..x.len() {
                prop_assert!(close(out[i], (x[i] as f64).exp(), 2.5e-7, 1.5e-45), "exp({}) = {}", x[i], out[i]);
            }
        }

        #[test]
        fn small_arguments_keep_relative_accuracy(x in values(-1e-3..1e-3)) {
            let mut out = vec![0.0; x.len()];
            tanh(&x, &mut out);
            for i in 0..x.len() { prop_assert!(close(out[i], (x[i] as f64).tanh(), 1e-6, 1e-30), "tanh({}) = {}", x[i], out[i]); }
        }

        #[test]
        fn activation_backward_kernels_match_scalar((x, gy) in pair(-5.0..5.0), slope in 0.0f32..0.5) {
            let n = x.len();
            let start: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
            let mut y = vec![0.0; n];
            sigmoid(&x, &mut y);
            let mut gx = start.clone();
            sigmoid_backward(&y, &gy, &mut gx);
            for i in 0..n { prop_assert!(close(gx[i], start[i] as f64 + (gy[i] * y[i] * (1.0 - y[i])) as f64, 1e-5, 1e-6)); }
            tanh(&x, &mut y);
            let mut gx = start.clone();
            tanh_backward(&y, &gy, &mut gx);
            for i in 0..n { prop_assert!(close(gx[i], start[i] as f64 + (gy[i] * (1.0 - y[i] * y[i])) as f64, 1e-5, 1e-6)); }
            relu(&x, &mut y);
            for i in 0..n { prop_assert_eq!(y[i], x[i].max(0.0)); }
            let mut gx = start.clone();
            relu_backward(&x, &gy, &mut gx);
            for i in 0..n { prop_assert_eq!(gx[i], start[i] + if x[i] > 0.0 { gy[i] } else { 0.0 }); }
            leaky_relu(slope, &x, &mut y);
            for i in 0..n { prop_assert_eq!(y[i], if x[i] > 0.0 { x[i] } else { slope * x[i] }); }
            let mut gx = start.clone();
            leaky_relu_backward(slope, &x, &gy, &mut gx);
            for i in 0..n { prop_assert_eq!(gx[i], start[i] + if x[i] > 0.0 { gy[i] } else { gy[i] * slope }); }
            let positive: Vec<f32> = x.iter().map(|v| v.abs() + 0.5).collect();
            let mut gx = start.clone();
            ln_backward(&positive, &gy, &mut gx);
            for i in 0..n { prop_assert!(close(gx[i], start[i] as f64 + (gy[i] / positive[i]) as f64, 1e-5, 1e-6)); }
        }

        #[test]
        fn bias_add_and_column_sum_match_scalar(rows in 0usize..12, cols in prop_oneof![Just(1usize), Just(7), Just(9), 1usize..40]) {
            let x: Vec<f32> = (0..rows * cols).map(|i| (i % 13) as f32 - 6.0).collect();
            let bias: Vec<f32> = (0..cols).map(|j| j as f32 * 0.5).collect();
            let mut y = x.clone();
            bias_add(&bias, &mut y);
            for i in 0..rows { for j in 0..cols { prop_assert_eq!(y[i * cols + j], x[i * cols + j] + bias[j]); } }
            let mut sums = vec![1.0; cols];
            column_sum_acc(&x, &mut sums);
            for j in 0..cols {
                let want: f32 = 1.0 + (0..rows).map(|i| x[i * cols + j]).sum::<f32>();
                prop_assert_eq!(sums[j], want);
            }
        }
    }

    #[test]
    fn sigmoid_saturates_without_nan() {
        let x = [-200.0, -90.0, 90.0, 200.0, f32::NEG_INFINITY, f32::INFINITY];
        let mut y = [0.0; 6];
        sigmoid(&x, &mut y);
        assert_eq!(y, [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
        tanh(&x, &mut y);
        assert_eq!(y, [-1.0, -1.0, 1.0, 1.0, -1.0, 1.0]);
    }

    #[test]
    fn exp_overflows_underflows_and_keeps_nan() {
        let x = [
            f32::NEG_INFINITY,
            -1e30,
            -104.0,
            -90.0,
            0.0,
            88.72,
            88.73,
            1e30,
            f32::INFINITY,
            f32::NAN,
        ];
        let mut y = [0.0; 10];
        exp(&x, &mut y);
        assert_eq!(y[..3], [0.0, 0.0, 0.0]);
        assert!(
            y[3] > 0.0 && !y[3].is_normal(),
            "e^-90 is subnormal: {}",
            y[3]
        );
        assert_eq!(y[4], 1.0);
        assert!(y[5].is_finite() && y[5] > 3.3e38, "e^88.72 = {}", y[5]);
        assert_eq!(y[6..9], [f32::INFINITY; 3]);
        assert!(y[9].is_nan());
    }

    #[test]
    fn tail_elements_get_the_same_result_as_vector_lanes() {
        let x: Vec<f32> = (0..=LANES).map(|i| i as f32 * 0.37 - 1.0).collect();
        let mut long = vec![0.0; LANES + 1];
        sigmoid(&x, &mut long);
        let mut short = [0.0; 1];
        sigmoid(&x[LANES..], &mut short);
        assert_eq!(long[LANES].to_bits(), short[0].to_bits());
    }
}
