//! Element-wise kernels, eight lanes at a time with `wide::f32x8`.
//!
//! Every kernel runs the same vector code on the tail: the last `len % 8` elements are
//! copied into a zero-padded `[f32; 8]`, so an element's result never depends on where
//! it sits in the buffer (or on the batch size). Backward kernels *accumulate* into the
//! gradient (`grad_x += ...`): an input may feed several nodes.

use wide::f32x8;

/// `out[i] = f(x[i])`.
#[inline]
fn map1(x: &[f32], out: &mut [f32], f: impl Fn(f32x8) -> f32x8 + Sync) {
    assert_eq!(x.len(), out.len(), "element-wise kernel: lengths differ");
    if x.len() >= 2 * PARALLEL_CHUNK && rayon::current_num_threads() > 1 {
        // A large activation (a batch of 1000 × 256) is shared by the worker pool in
        // chunks of whole vectors: every value is computed as it would be on one thread.
        use rayon::prelude::*;
        x.par_chunks(PARALLEL_CHUNK)
            .zip(out.par_chunks_mut(PARALLEL_CHUNK))
            .for_each(|(x, out)| map1_on_one_thread(x, out, &f));
        return;
    }
    map1_on_one_thread(x, out, f);
}

/// Elements per chunk when [`map1`] splits its work (a multiple of the vector width).
const PARALLEL_CHUNK: usize = 1 << 15;

#[inline(always)]
fn map1_on_one_thread(x: &[f32], out: &mut [f32], f: impl Fn(f32x8) -> f32x8) {
    let (x8, x_tail) = x.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for (xs, os) in x8.iter().zip(o8) {
        *os = f(f32x8::new(*xs)).to_array();
    }
    if !x_tail.is_empty() {
        let mut xs = [0.0; 8];
        xs[..x_tail.len()].copy_from_slice(x_tail);
        let ys = f(f32x8::new(xs)).to_array();
        o_tail.copy_from_slice(&ys[..o_tail.len()]);
    }
}

/// `out[i] = f(a[i], b[i], out[i])`: covers both `out = a ∘ b` and `out += a ∘ b`.
#[inline(always)]
fn zip2(a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8, f32x8) -> f32x8) {
    assert_eq!(a.len(), out.len(), "element-wise kernel: lengths differ");
    assert_eq!(b.len(), out.len(), "element-wise kernel: lengths differ");
    let (a8, a_tail) = a.as_chunks::<8>();
    let (b8, b_tail) = b.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for ((as_, bs), os) in a8.iter().zip(b8).zip(o8) {
        *os = f(f32x8::new(*as_), f32x8::new(*bs), f32x8::new(*os)).to_array();
    }
    if !o_tail.is_empty() {
        let (mut as_, mut bs, mut os) = ([0.0; 8], [0.0; 8], [0.0; 8]);
        as_[..a_tail.len()].copy_from_slice(a_tail);
        bs[..b_tail.len()].copy_from_slice(b_tail);
        os[..o_tail.len()].copy_from_slice(o_tail);
        let ys = f(f32x8::new(as_), f32x8::new(bs), f32x8::new(os)).to_array();
        let n = o_tail.len();
        o_tail.copy_from_slice(&ys[..n]);
    }
}

/// `out[i] = f(x[i], out[i])`.
#[inline(always)]
fn update1(x: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8) -> f32x8) {
    assert_eq!(x.len(), out.len(), "element-wise kernel: lengths differ");
    let (x8, x_tail) = x.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for (xs, os) in x8.iter().zip(o8) {
        *os = f(f32x8::new(*xs), f32x8::new(*os)).to_array();
    }
    if !x_tail.is_empty() {
        let (mut xs, mut os) = ([0.0; 8], [0.0; 8]);
        xs[..x_tail.len()].copy_from_slice(x_tail);
        os[..o_tail.len()].copy_from_slice(o_tail);
        let ys = f(f32x8::new(xs), f32x8::new(os)).to_array();
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
    let alpha = f32x8::splat(alpha);
    map1(x, out, |x| x * alpha);
}

/// `out = x + c`.
pub fn add_scalar(c: f32, x: &[f32], out: &mut [f32]) {
    let c = f32x8::splat(c);
    map1(x, out, |x| x + c);
}

/// `y += alpha·x`.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    let alpha = f32x8::splat(alpha);
    update1(x, y, |x, y| x.mul_add(alpha, y));
}

/// `y += alpha·x`, then `x = 0`, in one pass: a plain SGD step that also clears the
/// gradient for the next step.
pub fn axpy_and_clear(alpha: f32, x: &mut [f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy_and_clear: lengths differ");
    let a = f32x8::splat(alpha);
    let (x8, x_tail) = x.as_chunks_mut::<8>();
    let (y8, y_tail) = y.as_chunks_mut::<8>();
    for (xs, ys) in x8.iter_mut().zip(y8) {
        *ys = f32x8::new(*xs).mul_add(a, f32x8::new(*ys)).to_array();
        *xs = [0.0; 8];
    }
    update1(x_tail, y_tail, |x, y| x.mul_add(a, y));
    x_tail.fill(0.0);
}

/// `y += x`.
pub fn add_assign(x: &[f32], y: &mut [f32]) {
    update1(x, y, |x, y| y + x);
}

/// `out = eˣ`.
pub fn exp(x: &[f32], out: &mut [f32]) {
    map1(x, out, f32x8::exp);
}

/// `out = ln x` (NaN for negative `x`, −∞ at 0, as IEEE says).
pub fn ln(x: &[f32], out: &mut [f32]) {
    map1(x, out, f32x8::ln);
}

/// `grad_x += grad_y / x`: the derivative of `ln`.
pub fn ln_backward(x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(x, grad_y, grad_x, |x, gy, gx| gx + gy / x);
}

/// `out = 1 / (1 + e⁻ˣ)`.
pub fn sigmoid(x: &[f32], out: &mut [f32]) {
    map1(x, out, |x| f32x8::ONE / (f32x8::ONE + (-x).exp()));
}

/// `grad_x += grad_y·y·(1 − y)`, from the saved output `y`.
pub fn sigmoid_backward(y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(y, grad_y, grad_x, |y, gy, gx| {
        (gy * y).mul_add(f32x8::ONE - y, gx)
    });
}

/// `out = tanh x`.
pub fn tanh(x: &[f32], out: &mut [f32]) {
    map1(x, out, f32x8::tanh);
}

/// `grad_x += grad_y·(1 − y²)`, from the saved output `y`.
pub fn tanh_backward(y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(y, grad_y, grad_x, |y, gy, gx| {
        gy.mul_add(y.mul_neg_add(y, f32x8::ONE), gx)
    });
}

/// `out = max(x, 0)`.
pub fn relu(x: &[f32], out: &mut [f32]) {
    map1(x, out, |x| x.max(f32x8::ZERO));
}

/// `grad_x += grad_y·[x > 0]`.
pub fn relu_backward(x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    zip2(x, grad_y, grad_x, |x, gy, gx| {
        gx + x.simd_gt(f32x8::ZERO).select(gy, f32x8::ZERO)
    });
}

/// `out = x` for `x > 0`, `slope·x` otherwise.
pub fn leaky_relu(slope: f32, x: &[f32], out: &mut [f32]) {
    let slope = f32x8::splat(slope);
    map1(x, out, |x| x.simd_gt(f32x8::ZERO).select(x, x * slope));
}

/// `grad_x += grad_y·(x > 0 ? 1 : slope)`.
pub fn leaky_relu_backward(slope: f32, x: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
    let slope = f32x8::splat(slope);
    zip2(x, grad_y, grad_x, |x, gy, gx| {
        gx + x.simd_gt(f32x8::ZERO).select(gy, gy * slope)
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
        map1_on_one_thread(&x, &mut whole, |x| f32x8::ONE / (f32x8::ONE + (-x).exp()));
        assert!(
            split
                .iter()
                .zip(&whole)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Lengths that straddle the vector width: 0, 1, 7, 8, 9 and large.
    fn values(range: std::ops::Range<f32>) -> impl Strategy<Value = Vec<f32>> {
        prop_oneof![
            vec(range.clone(), 0..=1),
            vec(range.clone(), 7..=9),
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
    fn tail_elements_get_the_same_result_as_vector_lanes() {
        let x: Vec<f32> = (0..9).map(|i| i as f32 * 0.37 - 1.0).collect();
        let mut long = vec![0.0; 9];
        sigmoid(&x, &mut long);
        let mut short = [0.0; 1];
        sigmoid(&x[8..], &mut short);
        assert_eq!(long[8].to_bits(), short[0].to_bits());
    }
}
