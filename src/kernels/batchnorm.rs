//! Batch normalisation (PyTorch's `BatchNorm1d`/`BatchNorm2d`): batch statistics in
//! training, running statistics at evaluation.
//!
//! A batch is `[batch, channels, pixels]`, row-major: an image batch `[batch, c, h, w]`
//! with `pixels = h·w`, or a vector batch `[batch, n]` with `pixels = 1` (statistics per
//! feature). Each channel's statistics are over its `batch·pixels` values.
//!
//! Sums, and why in this order: each `(sample, channel)` plane is summed in eight `f32`
//! lanes (a fixed order, as [`super::reduce::sum`]), and the planes' sums are added in `f64` in
//! sample order. The `f32` part sees at most a plane (784 values for 28 × 28, about 100
//! per lane), and `f64` keeps the 64 to 1000 planes of a batch from adding their rounding
//! errors; the whole costs one conversion per plane. The variance is summed around the
//! mean (two passes), not as `E[x²] − E[x]²`, which cancels catastrophically when the
//! mean is large against the spread. Channels are shared among the worker threads for
//! the sums and planes for the element-wise passes; each value is computed by one thread
//! in a fixed order, so the bits do not depend on the thread count.
//!
//! Its length (320 lines of code, 371 of tests) is the kernel with the tests that pin
//! its bits, which reach its private helpers: kept in one file on purpose.

use rayon::prelude::*;
use wide::f32x8;

/// The sizes of one batch-norm layer, and its `eps` (added to the variance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    pub batch: usize,
    pub channels: usize,
    /// `h·w` for images, 1 for vectors.
    pub pixels: usize,
    pub eps: f32,
}

/// One batch's per-channel statistics (`[channels]` each), as the training forward pass
/// saves them for backward: the mean and the biased variance (divided by `batch·pixels`).
#[derive(Debug, Clone, Copy)]
pub struct BatchStats<'a> {
    pub mean: &'a [f32],
    pub var: &'a [f32],
}

impl BatchNorm {
    /// Values per channel, `batch·pixels`.
    pub fn count(&self) -> usize {
        self.batch * self.pixels
    }

    fn len(&self) -> usize {
        self.batch * self.channels * self.pixels
    }

    fn check(&self, x: &[f32], per_channel: &[&[f32]]) {
        assert_eq!(x.len(), self.len(), "batchnorm: input size");
        for v in per_channel {
            assert_eq!(v.len(), self.channels, "batchnorm: per-channel size");
        }
    }

    /// `1 / √(var + eps)`, the same expression in forward and backward.
    fn inv_std(&self, var: f32) -> f32 {
        1.0 / (var + self.eps).sqrt()
    }

    /// Channels per task for the sums: at least a few thousand values each.
    fn min_channels(&self) -> usize {
        (4096 / self.count().max(1)).max(1)
    }

    /// Training: `mean[c]` and the biased `var[c]` of channel `c` over the batch, then
    /// `y = gamma[c]·(x − mean[c])/√(var[c] + eps) + beta[c]`. `mean` and `var` are what
    /// [`BatchNorm::backward`] and [`BatchNorm::update_running`] read.
    pub fn forward_train(
        &self,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        mean: &mut [f32],
        var: &mut [f32],
        y: &mut [f32],
    ) {
        self.check(x, &[gamma, beta, mean, var]);
        assert_eq!(y.len(), x.len(), "batchnorm: output size");
        if self.count() == 0 {
            return;
        }
        let count = self.count() as f64;
        mean.par_iter_mut()
            .zip(var.par_iter_mut())
            .enumerate()
            .with_min_len(self.min_channels())
            .for_each(|(c, (mean, var))| {
                let sum: f64 = self.planes(x, c).map(|p| plane_sum(p) as f64).sum();
                *mean = (sum / count) as f32;
                let m = f32x8::splat(*mean);
                let squares: f64 = self
                    .planes(x, c)
                    .map(|p| lane_sum(p, |x| (x - m) * (x - m)) as f64)
                    .sum();
                *var = (squares / count) as f32;
            });
        let (mean, var) = (&*mean, &*var);
        self.per_plane(x, y, |c, x, y| {
            let scale = gamma[c] * self.inv_std(var[c]);
            let (m, a, b) = (
                f32x8::splat(mean[c]),
                f32x8::splat(scale),
                f32x8::splat(beta[c]),
            );
            map_plane(x, y, |x| (x - m).mul_add(a, b));
        });
    }

    /// PyTorch's running statistics: `running = (1 − momentum)·running + momentum·batch`,
    /// the variance made unbiased (`·n/(n − 1)`, `n = batch·pixels`) first. With one value
    /// per channel the unbiased variance is undefined (PyTorch refuses to train such a
    /// layer); the biased one, 0, is used, so nothing divides by zero.
    pub fn update_running(
        &self,
        momentum: f32,
        stats: BatchStats<'_>,
        running_mean: &mut [f32],
        running_var: &mut [f32],
    ) {
        let n = self.count();
        let unbias = if n > 1 {
            n as f32 / (n - 1) as f32
        } else {
            1.0
        };
        let keep = 1.0 - momentum;
        for (running, &mean) in running_mean.iter_mut().zip(stats.mean) {
            *running = keep * *running + momentum * mean;
        }
        for (running, &var) in running_var.iter_mut().zip(stats.var) {
            *running = keep * *running + momentum * (var * unbias);
        }
    }

    /// Evaluation: `y = gamma[c]·(x − running_mean[c])/√(running_var[c] + eps) + beta[c]`.
    pub fn forward_eval(
        &self,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        running: BatchStats<'_>,
        y: &mut [f32],
    ) {
        self.check(x, &[gamma, beta, running.mean, running.var]);
        assert_eq!(y.len(), x.len(), "batchnorm: output size");
        self.per_plane(x, y, |c, x, y| {
            let scale = gamma[c] * self.inv_std(running.var[c]);
            let (m, a, b) = (
                f32x8::splat(running.mean[c]),
                f32x8::splat(scale),
                f32x8::splat(beta[c]),
            );
            map_plane(x, y, |x| (x - m).mul_add(a, b));
        });
    }

    /// Backward of [`BatchNorm::forward_train`], accumulating. With `x̂ = (x − mean)·s`,
    /// `s = 1/√(var + eps)`, `n = batch·pixels` and sums over a channel:
    /// - `grads.beta[c] += Σ grad_y`, `grads.gamma[c] += Σ grad_y·x̂`;
    /// - `grads.x += gamma·s·(grad_y − Σ grad_y / n − x̂·Σ(grad_y·x̂) / n)`: the mean and the
    ///   variance depend on every `x` of the channel, which gives the two subtracted terms.
    ///
    /// `sums` (`2·channels`, overwritten) holds each channel's two sums between the pass
    /// over channels that finds them and the pass over planes that uses them.
    pub fn backward(
        &self,
        x: &[f32],
        gamma: &[f32],
        stats: BatchStats<'_>,
        grad_y: &[f32],
        grads: BatchNormGrads<'_>,
        sums: &mut [f32],
    ) {
        let BatchNormGrads {
            x: grad_x,
            gamma: grad_gamma,
            beta: grad_beta,
        } = grads;
        self.check(x, &[gamma, stats.mean, stats.var, grad_gamma, grad_beta]);
        assert_eq!(grad_y.len(), x.len(), "batchnorm: output gradient size");
        assert_eq!(grad_x.len(), x.len(), "batchnorm: input gradient size");
        assert_eq!(sums.len(), 2 * self.channels, "batchnorm: sums size");
        if self.count() == 0 {
            return;
        }
        // sums[2c] = Σ grad_y, sums[2c + 1] = Σ grad_y·(x − mean), over channel c.
        sums.par_chunks_mut(2)
            .enumerate()
            .with_min_len(self.min_channels())
            .for_each(|(c, sums)| {
                let m = f32x8::splat(stats.mean[c]);
                let (mut sum_g, mut sum_gd) = (0.0f64, 0.0f64);
                for (x, g) in self.planes(x, c).zip(self.planes(grad_y, c)) {
                    sum_g += plane_sum(g) as f64;
                    sum_gd += lane_sum2(x, g, |x, g| g * (x - m)) as f64;
                }
                sums[0] = sum_g as f32;
                sums[1] = sum_gd as f32;
            });
        for (c, pair) in sums.chunks_exact(2).enumerate() {
            grad_beta[c] += pair[0];
            grad_gamma[c] += pair[1] * self.inv_std(stats.var[c]);
        }
        let count = self.count() as f32;
        let sums = &*sums;
        grad_x
            .par_chunks_mut(self.pixels)
            .zip(x.par_chunks(self.pixels))
            .zip(grad_y.par_chunks(self.pixels))
            .enumerate()
            .with_min_len(self.min_planes())
            .for_each(|(i, ((grad_x, x), g))| {
                let c = i % self.channels;
                let s = self.inv_std(stats.var[c]);
                // grad_x += a·(g − mean_g − (x − mean)·d) with a = gamma·s,
                // mean_g = Σg/n and d = s²·Σg(x − mean)/n (= s·Σ g·x̂ / n).
                let a = f32x8::splat(gamma[c] * s);
                let mean_g = f32x8::splat(sums[2 * c] / count);
                let d = f32x8::splat(s * s * sums[2 * c + 1] / count);
                let m = f32x8::splat(stats.mean[c]);
                update_plane(x, g, grad_x, |x, g, gx| {
                    (g - mean_g - (x - m) * d).mul_add(a, gx)
                });
            });
    }

    /// Channel `c`'s plane of every sample, in sample order.
    fn planes<'v>(&self, v: &'v [f32], c: usize) -> impl Iterator<Item = &'v [f32]> {
        let (channels, pixels) = (self.channels, self.pixels);
        (0..self.batch).map(move |b| &v[(b * channels + c) * pixels..][..pixels])
    }

    /// Planes per task for the element-wise passes: a few thousand values each.
    fn min_planes(&self) -> usize {
        (4096 / self.pixels.max(1)).max(1)
    }

    /// `f(c, x_plane, y_plane)` over every plane, shared among the worker threads.
    fn per_plane(&self, x: &[f32], y: &mut [f32], f: impl Fn(usize, &[f32], &mut [f32]) + Sync) {
        if self.pixels == 0 {
            return;
        }
        y.par_chunks_mut(self.pixels)
            .zip(x.par_chunks(self.pixels))
            .enumerate()
            .with_min_len(self.min_planes())
            .for_each(|(i, (y, x))| f(i % self.channels, x, y));
    }
}

/// The gradients [`BatchNorm::backward`] adds to: the input's (`[batch, channels,
/// pixels]`) and the scale's and shift's (`[channels]`).
#[derive(Debug)]
pub struct BatchNormGrads<'a> {
    pub x: &'a mut [f32],
    pub gamma: &'a mut [f32],
    pub beta: &'a mut [f32],
}

/// Σ x in eight lanes (tail added in order after them): one plane's share of a sum.
fn plane_sum(x: &[f32]) -> f32 {
    lane_sum(x, |x| x)
}

/// Σ f(x) in eight lanes, then the lanes, then the tail, in that order.
#[inline]
fn lane_sum(x: &[f32], f: impl Fn(f32x8) -> f32x8) -> f32 {
    let (x8, tail) = x.as_chunks::<8>();
    let mut acc = f32x8::ZERO;
    for xs in x8 {
        acc += f(f32x8::new(*xs));
    }
    let lanes = acc.reduce_add();
    tail.iter()
        .fold(lanes, |sum, &x| sum + f(f32x8::splat(x)).to_array()[0])
}

/// Σ f(x, g) in eight lanes, then the lanes, then the tail.
#[inline]
fn lane_sum2(x: &[f32], g: &[f32], f: impl Fn(f32x8, f32x8) -> f32x8) -> f32 {
    let (x8, x_tail) = x.as_chunks::<8>();
    let (g8, g_tail) = g.as_chunks::<8>();
    let mut acc = f32x8::ZERO;
    for (xs, gs) in x8.iter().zip(g8) {
        acc += f(f32x8::new(*xs), f32x8::new(*gs));
    }
    let lanes = acc.reduce_add();
    x_tail.iter().zip(g_tail).fold(lanes, |sum, (&x, &g)| {
        sum + f(f32x8::splat(x), f32x8::splat(g)).to_array()[0]
    })
}

/// `y = f(x)`, eight lanes at a time; the tail through the same vector code.
#[inline]
fn map_plane(x: &[f32], y: &mut [f32], f: impl Fn(f32x8) -> f32x8) {
    let (x8, x_tail) = x.as_chunks::<8>();
    let (y8, y_tail) = y.as_chunks_mut::<8>();
    for (xs, ys) in x8.iter().zip(y8) {
        *ys = f(f32x8::new(*xs)).to_array();
    }
    for (x, y) in x_tail.iter().zip(y_tail) {
        *y = f(f32x8::splat(*x)).to_array()[0];
    }
}

/// `out = f(x, g, out)`, eight lanes at a time; the tail through the same vector code.
#[inline]
fn update_plane(x: &[f32], g: &[f32], out: &mut [f32], f: impl Fn(f32x8, f32x8, f32x8) -> f32x8) {
    let (x8, x_tail) = x.as_chunks::<8>();
    let (g8, g_tail) = g.as_chunks::<8>();
    let (o8, o_tail) = out.as_chunks_mut::<8>();
    for ((xs, gs), os) in x8.iter().zip(g8).zip(o8) {
        *os = f(f32x8::new(*xs), f32x8::new(*gs), f32x8::new(*os)).to_array();
    }
    for ((x, g), o) in x_tail.iter().zip(g_tail).zip(o_tail) {
        *o = f(f32x8::splat(*x), f32x8::splat(*g), f32x8::splat(*o)).to_array()[0];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_values::filled;
    use proptest::prelude::*;

    /// Channel `c`'s values, in sample order.
    fn channel(bn: &BatchNorm, v: &[f32], c: usize) -> Vec<f64> {
        bn.planes(v, c).flatten().map(|&v| v as f64).collect()
    }

    /// Direct f64 formulas: mean, biased variance, y, and the three gradients of
    /// `L = Σ grad_y·y` (by the rule in `backward`'s comment, written per element).
    struct Reference {
        mean: Vec<f64>,
        var: Vec<f64>,
        y: Vec<f64>,
        grad_x: Vec<f64>,
        grad_gamma: Vec<f64>,
        grad_beta: Vec<f64>,
    }

    fn reference(
        bn: &BatchNorm,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        grad_y: &[f32],
    ) -> Reference {
        let n = bn.count() as f64;
        let mut r = Reference {
            mean: vec![],
            var: vec![],
            y: vec![0.0; x.len()],
            grad_x: vec![0.0; x.len()],
            grad_gamma: vec![],
            grad_beta: vec![],
        };
        for c in 0..bn.channels {
            let (xs, gs) = (channel(bn, x, c), channel(bn, grad_y, c));
            let mean = xs.iter().sum::<f64>() / n;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            let s = 1.0 / (var + bn.eps as f64).sqrt();
            let x_hat: Vec<f64> = xs.iter().map(|x| (x - mean) * s).collect();
            let sum_g: f64 = gs.iter().sum();
            let sum_gx: f64 = gs.iter().zip(&x_hat).map(|(g, h)| g * h).sum();
            let index = (0..bn.batch)
                .flat_map(|b| (0..bn.pixels).map(move |p| (b * bn.channels + c) * bn.pixels + p));
            for (j, i) in index.enumerate() {
                r.y[i] = gamma[c] as f64 * x_hat[j] + beta[c] as f64;
                r.grad_x[i] = gamma[c] as f64 * s * (gs[j] - sum_g / n - x_hat[j] * sum_gx / n);
            }
            r.mean.push(mean);
            r.var.push(var);
            r.grad_gamma.push(sum_gx);
            r.grad_beta.push(sum_g);
        }
        r
    }

    fn close(what: &str, got: &[f32], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&got, &want)) in got.iter().zip(want).enumerate() {
            assert!(
                (got as f64 - want).abs() <= tol * (1.0 + want.abs()),
                "{what}[{i}]: {got} vs {want}"
            );
        }
    }

    fn layers() -> impl Strategy<Value = BatchNorm> {
        (
            1usize..=5,
            1usize..5,
            prop_oneof![Just(1usize), Just(7), Just(8), Just(9), 1usize..40],
            prop_oneof![Just(1e-5f32), Just(1e-3)],
        )
            .prop_filter("two values per channel", |&(batch, _, pixels, _)| {
                batch * pixels > 1
            })
            .prop_map(|(batch, channels, pixels, eps)| BatchNorm {
                batch,
                channels,
                pixels,
                eps,
            })
    }

    /// Everything one training step computes, gradients starting from `start` values.
    fn train_step(
        bn: &BatchNorm,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        grad_y: &[f32],
        times: usize,
    ) -> [Vec<f32>; 6] {
        let c = bn.channels;
        let (mut mean, mut var, mut y) = (
            vec![f32::NAN; c],
            vec![f32::NAN; c],
            vec![f32::NAN; x.len()],
        );
        bn.forward_train(x, gamma, beta, &mut mean, &mut var, &mut y);
        let (mut grad_x, mut grad_gamma, mut grad_beta) =
            (filled(x.len(), 91), filled(c, 92), filled(c, 93));
        let mut sums = vec![f32::NAN; 2 * c];
        for _ in 0..times {
            let grads = BatchNormGrads {
                x: &mut grad_x,
                gamma: &mut grad_gamma,
                beta: &mut grad_beta,
            };
            bn.backward(
                x,
                gamma,
                BatchStats {
                    mean: &mean,
                    var: &var,
                },
                grad_y,
                grads,
                &mut sums,
            );
        }
        [mean, var, y, grad_x, grad_gamma, grad_beta]
    }

    /// `start + times·want`, the value an accumulating gradient should reach.
    fn accumulated(start: Vec<f32>, want: &[f64], times: usize) -> Vec<f64> {
        start
            .iter()
            .zip(want)
            .map(|(&s, &w)| s as f64 + times as f64 * w)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn training_pass_matches_the_formulas(bn in layers(), seed: u64, twice: bool) {
            let len = bn.batch * bn.channels * bn.pixels;
            let x: Vec<f32> = filled(len, seed).iter().map(|v| 3.0 * v + 0.5).collect();
            let (gamma, beta) = (filled(bn.channels, seed ^ 1), filled(bn.channels, seed ^ 2));
            let grad_y = filled(len, seed ^ 3);
            let want = reference(&bn, &x, &gamma, &beta, &grad_y);
            let times = if twice { 2 } else { 1 };
            let [mean, var, y, grad_x, grad_gamma, grad_beta] = train_step(&bn, &x, &gamma, &beta, &grad_y, times);
            close("mean", &mean, &want.mean, 1e-6);
            close("var", &var, &want.var, 1e-5);
            close("y", &y, &want.y, 1e-4);
            // With eps = 1e-5 and few values, s is up to ~1e2: allow for it.
            close("grad_x", &grad_x, &accumulated(filled(len, 91), &want.grad_x, times), 1e-3);
            close("grad_gamma", &grad_gamma, &accumulated(filled(bn.channels, 92), &want.grad_gamma, times), 1e-4);
            close("grad_beta", &grad_beta, &accumulated(filled(bn.channels, 93), &want.grad_beta, times), 1e-5);
        }

        #[test]
        fn running_statistics_and_evaluation_match_pytorch(bn in layers(), seed: u64, momentum in 0.01f32..0.99) {
            let len = bn.batch * bn.channels * bn.pixels;
            let x = filled(len, seed);
            let (gamma, beta) = (filled(bn.channels, seed ^ 1), filled(bn.channels, seed ^ 2));
            let [mean, var, ..] = train_step(&bn, &x, &gamma, &beta, &vec![0.0; len], 1);
            let (rm0, rv0): (Vec<f32>, Vec<f32>) = (filled(bn.channels, seed ^ 4), filled(bn.channels, seed ^ 5).iter().map(|v| v.abs() + 0.1).collect());
            let (mut rm, mut rv) = (rm0.clone(), rv0.clone());
            bn.update_running(momentum, BatchStats { mean: &mean, var: &var }, &mut rm, &mut rv);
            let n = bn.count() as f64;
            let m = momentum as f64;
            for c in 0..bn.channels {
                let want_mean = (1.0 - m) * rm0[c] as f64 + m * mean[c] as f64;
                let want_var = (1.0 - m) * rv0[c] as f64 + m * var[c] as f64 * n / (n - 1.0);
                prop_assert!((rm[c] as f64 - want_mean).abs() <= 1e-6, "running_mean[{}]", c);
                prop_assert!((rv[c] as f64 - want_var).abs() <= 1e-5 * (1.0 + want_var), "running_var[{}]", c);
            }
            let mut y = vec![f32::NAN; len];
            bn.forward_eval(&x, &gamma, &beta, BatchStats { mean: &rm, var: &rv }, &mut y);
            for c in 0..bn.channels {
                let s = 1.0 / (rv[c] as f64 + bn.eps as f64).sqrt();
                for b in 0..bn.batch {
                    for p in 0..bn.pixels {
                        let i = (b * bn.channels + c) * bn.pixels + p;
                        let want = gamma[c] as f64 * (x[i] as f64 - rm[c] as f64) * s + beta[c] as f64;
                        prop_assert!((y[i] as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()), "y[{}]: {} vs {}", i, y[i], want);
                    }
                }
            }
        }
    }

    /// `L = Σ grad_y·y` by central differences through `forward_train`, for the input,
    /// the scale and the shift.
    #[test]
    fn gradients_match_central_differences() {
        for bn in [
            BatchNorm {
                batch: 3,
                channels: 2,
                pixels: 5,
                eps: 1e-5,
            },
            BatchNorm {
                batch: 4,
                channels: 3,
                pixels: 1,
                eps: 1e-5,
            },
            BatchNorm {
                batch: 2,
                channels: 2,
                pixels: 9,
                eps: 1e-3,
            },
        ] {
            let len = bn.batch * bn.channels * bn.pixels;
            let x = filled(len, 7);
            let (gamma, beta) = (filled(bn.channels, 8), filled(bn.channels, 9));
            let grad_y = filled(len, 10);
            let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
                let (mut mean, mut var, mut y) = (
                    vec![0.0; bn.channels],
                    vec![0.0; bn.channels],
                    vec![0.0; len],
                );
                bn.forward_train(x, gamma, beta, &mut mean, &mut var, &mut y);
                y.iter()
                    .zip(&grad_y)
                    .map(|(&y, &g)| y as f64 * g as f64)
                    .sum()
            };
            let [_, _, _, mut grad_x, mut grad_gamma, mut grad_beta] =
                train_step(&bn, &x, &gamma, &beta, &grad_y, 1);
            grad_x
                .iter_mut()
                .zip(filled(len, 91))
                .for_each(|(g, s)| *g -= s);
            grad_gamma
                .iter_mut()
                .zip(filled(bn.channels, 92))
                .for_each(|(g, s)| *g -= s);
            grad_beta
                .iter_mut()
                .zip(filled(bn.channels, 93))
                .for_each(|(g, s)| *g -= s);
            let h = 1e-2f32;
            let base = loss(&x, &gamma, &beta).abs();
            let check = |what: &str, i: usize, analytic: f32, plus: f64, minus: f64| {
                let numeric = (plus - minus) / (2.0 * h as f64);
                let tol = 1e-2 * (1e-2 + (analytic as f64).abs().max(numeric.abs()))
                    + 8.0 * f32::EPSILON as f64 * base / h as f64;
                assert!(
                    (analytic as f64 - numeric).abs() <= tol,
                    "{bn:?} {what}[{i}]: {analytic} vs {numeric}"
                );
            };
            let nudged = |v: &[f32], i: usize, by: f32| -> Vec<f32> {
                let mut v = v.to_vec();
                v[i] += by;
                v
            };
            for (i, &analytic) in grad_x.iter().enumerate() {
                check(
                    "x",
                    i,
                    analytic,
                    loss(&nudged(&x, i, h), &gamma, &beta),
                    loss(&nudged(&x, i, -h), &gamma, &beta),
                );
            }
            for c in 0..bn.channels {
                check(
                    "gamma",
                    c,
                    grad_gamma[c],
                    loss(&x, &nudged(&gamma, c, h), &beta),
                    loss(&x, &nudged(&gamma, c, -h), &beta),
                );
                check(
                    "beta",
                    c,
                    grad_beta[c],
                    loss(&x, &gamma, &nudged(&beta, c, h)),
                    loss(&x, &gamma, &nudged(&beta, c, -h)),
                );
            }
        }
    }

    /// A channel at 1000 ± 1: `E[x²] − E[x]²` in f32 would lose every digit of the
    /// variance (1e6 has an ulp of 0.06); summing around the mean keeps it.
    #[test]
    fn a_large_mean_keeps_the_variance() {
        let bn = BatchNorm {
            batch: 64,
            channels: 1,
            pixels: 784,
            eps: 1e-5,
        };
        let x: Vec<f32> = filled(bn.count(), 3).iter().map(|v| 1000.0 + v).collect();
        let want = reference(&bn, &x, &[1.0], &[0.0], &vec![0.0; x.len()]);
        let (mut mean, mut var, mut y) = (vec![0.0], vec![0.0], vec![0.0; x.len()]);
        bn.forward_train(&x, &[1.0], &[0.0], &mut mean, &mut var, &mut y);
        assert!(
            (mean[0] as f64 - want.mean[0]).abs() <= 1e-4,
            "{} vs {}",
            mean[0],
            want.mean[0]
        );
        assert!(
            (var[0] as f64 / want.var[0] - 1.0).abs() <= 1e-4,
            "{} vs {}",
            var[0],
            want.var[0]
        );
    }

    #[test]
    fn one_value_per_channel_keeps_the_running_variance_finite() {
        let bn = BatchNorm {
            batch: 1,
            channels: 2,
            pixels: 1,
            eps: 1e-5,
        };
        let (mut rm, mut rv) = (vec![0.0; 2], vec![1.0; 2]);
        bn.update_running(
            0.1,
            BatchStats {
                mean: &[3.0, 4.0],
                var: &[0.0, 0.0],
            },
            &mut rm,
            &mut rv,
        );
        assert_eq!(rv, [0.9, 0.9]);
        assert_eq!(rm, [0.3, 0.4]);
    }

    #[test]
    fn bits_do_not_depend_on_the_thread_count() {
        for bn in [
            BatchNorm {
                batch: 9,
                channels: 6,
                pixels: 28 * 28,
                eps: 1e-5,
            },
            BatchNorm {
                batch: 64,
                channels: 300,
                pixels: 1,
                eps: 1e-5,
            },
        ] {
            let len = bn.batch * bn.channels * bn.pixels;
            let (x, grad_y) = (filled(len, 1), filled(len, 2));
            let (gamma, beta) = (filled(bn.channels, 3), filled(bn.channels, 4));
            let run = || {
                train_step(&bn, &x, &gamma, &beta, &grad_y, 1)
                    .map(|v| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            };
            let one = crate::kernels::on_worker_pool(Some(1), run);
            for threads in [2, 3] {
                assert!(
                    one == crate::kernels::on_worker_pool(Some(threads), run),
                    "{bn:?} on {threads} threads"
                );
            }
        }
    }
}
