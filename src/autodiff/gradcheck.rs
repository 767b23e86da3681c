//! Gradient checking: the tape's analytic gradients against central differences.
//!
//! Everything runs in `f32`, the precision the engine trains in. A central difference
//! `(f(x + h) − f(x − h)) / 2h` with `h = 1e-2` has a truncation error of order `h²·f'''`
//! (about 1e-5 for the smooth ops here) and a rounding error of order `ε·|f|/h` (about
//! 1e-5 for losses near 1), so an element is accepted when
//! `|analytic − numeric| ≤ TOLERANCE · (FLOOR + max(|analytic|, |numeric|)) + noise`:
//! relative for large gradients, absolute for tiny ones, plus the rounding noise of the
//! difference itself, `8·ε·|f|/h`, which grows with the size of the loss.
//! A wrong rule (a missing factor, a transposed product) misses by far more.

use super::{Params, Shape, Tape, TapeError, Var};

/// Step of the central difference.
pub const STEP: f32 = 1e-2;
/// Largest accepted [`relative_error`].
pub const TOLERANCE: f32 = 1e-2;
/// Gradients below this magnitude are compared absolutely.
pub const FLOOR: f32 = 1e-2;

/// The error measure the checker bounds by [`TOLERANCE`].
pub fn relative_error(analytic: f32, numeric: f32) -> f32 {
    relative_error_with_noise(analytic, numeric, 0.0)
}

/// [`relative_error`] with the rounding noise of a difference quotient whose function
/// values are about `f_magnitude` forgiven.
pub fn relative_error_with_noise(analytic: f32, numeric: f32, f_magnitude: f32) -> f32 {
    relative_error_for_step(analytic, numeric, f_magnitude, STEP)
}

/// [`relative_error_with_noise`] for a difference quotient with step `step`.
fn relative_error_for_step(analytic: f32, numeric: f32, f_magnitude: f32, step: f32) -> f32 {
    let err = (analytic - numeric).abs();
    if err.is_nan() {
        return f32::INFINITY;
    }
    let noise = 8.0 * f32::EPSILON * f_magnitude / step;
    err / (FLOOR + analytic.abs().max(numeric.abs()) + noise / TOLERANCE)
}

/// `(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h`, leaving `x` as it was.
pub fn central_difference(
    f: &mut impl FnMut(&[f32]) -> f32,
    x: &mut [f32],
    i: usize,
    h: f32,
) -> f32 {
    central_difference_and_magnitude(f, x, i, h).0
}

/// The central difference and the larger magnitude of the two function values.
fn central_difference_and_magnitude(
    f: &mut impl FnMut(&[f32]) -> f32,
    x: &mut [f32],
    i: usize,
    h: f32,
) -> (f32, f32) {
    let saved = x[i];
    x[i] = saved + h;
    let up = f(x);
    x[i] = saved - h;
    let down = f(x);
    x[i] = saved;
    ((up - down) / (2.0 * h), up.abs().max(down.abs()))
}

/// The worst element a check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Largest [`relative_error`] over the checked elements.
    pub max_rel_error: f32,
    /// Which parameter and element had it (`""` for a bare function).
    pub worst_param: String,
    pub worst_index: usize,
    pub worst_analytic: f32,
    pub worst_numeric: f32,
    /// Number of elements compared.
    pub checked: usize,
    /// Elements compared with a one-sided difference, because the step on the other
    /// side moved a `relu`/`leaky_relu` input across its kink at 0.
    pub one_sided: usize,
    /// Elements not compared, because steps on both sides crossed a kink.
    pub skipped: usize,
    /// Elements compared with a central difference of a smaller step (1/10 or 1/100 of
    /// [`STEP`]): the standard step crossed a kink and the smaller one did not, or the
    /// standard step's difference disagreed (high curvature) and a smaller one came closer.
    pub smaller_step: usize,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.max_rel_error <= TOLERANCE
    }

    fn new() -> Self {
        Report {
            max_rel_error: 0.0,
            worst_param: String::new(),
            worst_index: 0,
            worst_analytic: 0.0,
            worst_numeric: 0.0,
            checked: 0,
            one_sided: 0,
            skipped: 0,
            smaller_step: 0,
        }
    }

    fn record(
        &mut self,
        param: &str,
        index: usize,
        analytic: f32,
        numeric: f32,
        f_magnitude: f32,
        step: f32,
    ) {
        let err = relative_error_for_step(analytic, numeric, f_magnitude, step);
        self.checked += 1;
        if err > self.max_rel_error || self.checked == 1 {
            *self = Report {
                max_rel_error: err.max(self.max_rel_error),
                worst_param: param.to_owned(),
                worst_index: index,
                worst_analytic: analytic,
                worst_numeric: numeric,
                ..*self
            };
        }
    }
}

/// Compares a claimed gradient of `f` at `x` with central differences. This is the core
/// of every check; tests hand it deliberately wrong rules to prove it can fail.
pub fn compare(mut f: impl FnMut(&[f32]) -> f32, x: &[f32], analytic: &[f32]) -> Report {
    assert_eq!(
        x.len(),
        analytic.len(),
        "compare: one gradient entry per input"
    );
    let mut x = x.to_vec();
    let mut report = Report::new();
    for (i, &a) in analytic.iter().enumerate() {
        let (numeric, magnitude) = central_difference_and_magnitude(&mut f, &mut x, i, STEP);
        report.record("", i, a, numeric, magnitude, STEP);
    }
    report
}

/// Checks every parameter's gradient of the scalar `loss` on a recorded tape whose inputs
/// are filled. At most `max_per_param` elements of each parameter are perturbed (evenly
/// spaced), so large layers stay cheap. Dropout masks are re-drawn from the same seed for
/// every evaluation, so the function being differentiated is fixed.
///
/// A central difference is meaningless when a step moves some `relu` input across 0: the
/// function has a kink inside `[x − h, x + h]`, and the difference averages two slopes
/// (with real data and a 4-sample batch this happens to a few biases of every relu
/// model). The checker therefore records the sign of every `relu`/`leaky_relu` input at
/// `x` and after each step. When a step flips a sign, it tries steps 10 and 100 times
/// smaller and compares the first central difference that crosses no kink (its larger
/// rounding noise allowed for). When even the smallest step crosses on one side only, the
/// element is compared with the one-sided difference on the other, kink-free side
/// (truncation error of order `h·f''` instead of `h²·f'''`); when it crosses on both, it
/// is skipped. All three are counted in the report.
pub fn check_tape(tape: &mut Tape, params: &mut Params, loss: Var, max_per_param: usize) -> Report {
    const SEED: u64 = 0x5eed;
    params.zero_grads();
    tape.seed(SEED);
    tape.forward(params);
    tape.backward(loss, params);
    let center = tape.value(loss)[0];
    let mut signs_at_x = Vec::new();
    kink_signs(tape, params, &mut signs_at_x);
    let mut signs = Vec::with_capacity(signs_at_x.len());
    let mut report = Report::new();
    let trainable: Vec<_> = params.trainable_ids().collect();
    for id in trainable {
        let analytic = params.grad(id).to_vec();
        let n = analytic.len();
        let stride = n.div_ceil(max_per_param.max(1)).max(1);
        for i in (0..n).step_by(stride) {
            // The loss with element i set to `value`, and whether any kink was crossed.
            let mut eval = |params: &mut Params, value: f32| {
                params.value_mut(id)[i] = value;
                tape.seed(SEED);
                tape.forward(params);
                kink_signs(tape, params, &mut signs);
                (tape.value(loss)[0], signs != signs_at_x)
            };
            let saved = params.value(id)[i];
            // The standard step, then two smaller ones while a step crosses a kink or its
            // difference disagrees: the truncation error (h²·f‴) is large where a batch
            // norm divides by a tiny variance, and shrinks 100-fold per smaller step. A
            // wrong rule disagrees at every step; the closest kink-free one is recorded.
            let mut closest: Option<(f32, f32, f32, f32)> = None;
            let mut last = None;
            for step in [STEP, STEP / 10.0, STEP / 100.0] {
                let (up, crossed_up) = eval(params, saved + step);
                let (down, crossed_down) = eval(params, saved - step);
                params.value_mut(id)[i] = saved;
                let magnitude = up.abs().max(down.abs()).max(center.abs());
                if !crossed_up && !crossed_down {
                    let numeric = (up - down) / (2.0 * step);
                    let error = relative_error_for_step(analytic[i], numeric, magnitude, step);
                    if closest.is_none_or(|(best, ..)| error < best) {
                        closest = Some((error, numeric, magnitude, step));
                    }
                    if error <= TOLERANCE {
                        break;
                    }
                    continue;
                }
                last = Some((up, crossed_up, down, crossed_down, step, magnitude));
            }
            if let Some((_, numeric, magnitude, step)) = closest {
                if step != STEP {
                    report.smaller_step += 1;
                }
                report.record(params.name(id), i, analytic[i], numeric, magnitude, step);
                continue;
            }
            let (up, crossed_up, down, crossed_down, step, magnitude) =
                last.expect("the loop ran at least once");
            let numeric = match (crossed_up, crossed_down) {
                (true, false) => (center - down) / step,
                (false, true) => (up - center) / step,
                _ => {
                    report.skipped += 1;
                    continue;
                }
            };
            report.one_sided += 1;
            report.record(params.name(id), i, analytic[i], numeric, magnitude, step);
        }
    }
    report
}

/// Writes into `out` which side of its kink every input element of every node with one
/// is on, in tape order: how many of its kinks each `relu`/`leaky_relu` input is past ([`Tape::kinks`]),
/// and which input each max-pooling output took (its index scratch). A step that
/// changes any of them crossed a kink.
fn kink_signs(tape: &Tape, params: &Params, out: &mut Vec<u32>) {
    out.clear();
    for index in 0..tape.len() {
        let var = Var(u32::try_from(index).expect("fewer than 2³² tape nodes"));
        // Only max pooling keeps index scratch: which input each output took.
        out.extend_from_slice(tape.indices(index));
        let Some((x, kinks)) = tape.kinks(var) else {
            continue;
        };
        // A parameter's value lives in `Params`, not on the tape.
        let values = match tape.param_of(x) {
            Some(id) => params.value(id),
            None => tape.value(x),
        };
        out.extend(
            values
                .iter()
                .map(|&v| kinks.at.iter().filter(|&&k| v > k).count() as u32),
        );
    }
}

/// Checks an operation (or any composite) on parameters holding `inputs`. A non-scalar
/// result is reduced as `Σ y ∘ r` with fixed pseudo-random weights `r`, so that every
/// output element gets a different upstream gradient.
pub fn check_function(
    inputs: &[(Shape, Vec<f32>)],
    build: impl FnOnce(&mut Tape, &[Var]) -> Result<Var, TapeError>,
) -> Result<Report, TapeError> {
    let mut params = Params::new();
    let mut tape = Tape::new();
    let mut vars = Vec::new();
    for (i, (shape, values)) in inputs.iter().enumerate() {
        let id = params.add(format!("input{i}"), *shape, values.clone())?;
        vars.push(tape.param(&params, id));
    }
    let out = build(&mut tape, &vars)?;
    let loss = if tape.shape(out).numel() == 1 && tape.shape(out).rank() == 0 {
        out
    } else {
        let weights = tape.input(tape.shape(out));
        let n = tape.shape(out).numel();
        let buffer = tape.value_mut(weights)?;
        for (i, w) in buffer.iter_mut().enumerate().take(n) {
            *w = ((i * 7919 % 23) as f32 - 11.0) / 11.0;
        }
        let weighted = tape.mul(out, weights)?;
        tape.sum(weighted)
    };
    Ok(check_tape(&mut tape, &mut params, loss, 64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{MatRef, gemm, simd};

    fn sigmoid_sum(w: &[f32]) -> impl FnMut(&[f32]) -> f32 + '_ {
        move |x: &[f32]| {
            let mut y = vec![0.0; x.len()];
            simd::sigmoid(x, &mut y);
            y.iter().zip(w).map(|(y, w)| y * w).sum()
        }
    }

    #[test]
    fn catches_sigmoid_derivative_without_the_one_minus_s_factor() {
        let x: Vec<f32> = (0..12).map(|i| i as f32 * 0.4 - 2.0).collect();
        let w: Vec<f32> = (0..12).map(|i| 1.0 - i as f32 * 0.1).collect();
        let mut y = vec![0.0; x.len()];
        simd::sigmoid(&x, &mut y);
        let right: Vec<f32> = y.iter().zip(&w).map(|(y, w)| w * y * (1.0 - y)).collect();
        let wrong: Vec<f32> = y.iter().zip(&w).map(|(y, w)| w * y).collect();
        assert!(compare(sigmoid_sum(&w), &x, &right).ok());
        let report = compare(sigmoid_sum(&w), &x, &wrong);
        assert!(!report.ok(), "a wrong sigmoid rule passed: {report:?}");
    }

    #[test]
    fn catches_a_transposed_matmul_gradient() {
        // L = Σ G ∘ (X·W), X: [3, 4], W: [4, 4]. dL/dW = Xᵀ·G; the wrong rule returns its transpose.
        let (m, k, n) = (3, 4, 4);
        let x: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let g: Vec<f32> = (0..m * n).map(|i| (i as f32 * 0.91).cos()).collect();
        let w: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.13).cos()).collect();
        let loss = |w: &[f32]| {
            let mut y = vec![0.0; m * n];
            gemm(MatRef::new(&x, m, k), MatRef::new(w, k, n), 0.0, &mut y);
            y.iter().zip(&g).map(|(y, g)| y * g).sum::<f32>()
        };
        let mut right = vec![0.0; k * n];
        gemm(
            MatRef::new(&x, m, k).t(),
            MatRef::new(&g, m, n),
            0.0,
            &mut right,
        );
        let mut wrong = vec![0.0; k * n];
        gemm(
            MatRef::new(&g, m, n).t(),
            MatRef::new(&x, m, k),
            0.0,
            &mut wrong,
        );
        assert!(compare(loss, &w, &right).ok());
        let report = compare(loss, &w, &wrong);
        assert!(
            !report.ok(),
            "a transposed matmul gradient passed: {report:?}"
        );
    }

    #[test]
    fn a_steep_function_is_compared_with_a_smaller_step() {
        // σ(k·x) at x = 0 with k = 100: slope k/4 = 25, third derivative −k³/8, so the
        // standard step's difference is off by h²·k³/48 ≈ 2 (8 %); a step of STEP/10 is
        // off by 0.08 %.
        let vector = |v: f32| (Shape::vector(1).unwrap(), vec![v]);
        let report = check_function(&[vector(0.0), vector(100.0)], |tape, vars| {
            let scaled = tape.mul(vars[0], vars[1])?;
            Ok(tape.sigmoid(scaled))
        })
        .unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.smaller_step, 1, "{report:?}");
    }

    #[test]
    fn a_step_across_a_relu_kink_takes_a_smaller_step_or_the_kink_free_side() {
        // relu(x) at x = STEP/2: x − STEP crosses 0, so the central difference gives
        // (1.5·STEP − 0) / 2·STEP = 0.75 instead of the slope 1; STEP/10 does not cross.
        // At x = STEP/1000 even STEP/100 crosses, on the lower side only.
        let x = vec![STEP / 2.0, 1.0, -1.0, -STEP / 2.0, STEP / 1000.0];
        let shape = Shape::vector(x.len()).unwrap();
        let report = check_function(&[(shape, x)], |tape, vars| Ok(tape.relu(vars[0]))).unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(report.smaller_step, 2, "{report:?}");
        assert_eq!(report.one_sided, 1, "{report:?}");
        assert_eq!(report.checked, 5);
    }

    #[test]
    fn relative_error_treats_nan_as_a_failure() {
        assert!(relative_error(f32::NAN, 1.0) > TOLERANCE);
        assert!(relative_error(1.0, 1.0 + 1e-4) <= TOLERANCE);
    }
}

/// Strategies and assertions shared by the per-op gradient properties.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;

    use super::Report;
    use crate::autodiff::Shape;

    /// A `[rows, cols]` shape with `cols` straddling the SIMD width, and values in `range`.
    pub fn matrix(range: std::ops::Range<f32>) -> impl Strategy<Value = (Shape, Vec<f32>)> {
        (
            1usize..4,
            prop_oneof![Just(1usize), Just(7), Just(8), Just(9), 2usize..12],
        )
            .prop_flat_map(move |(rows, cols)| {
                (
                    Just(Shape::matrix(rows, cols).unwrap()),
                    proptest::collection::vec(range.clone(), rows * cols),
                )
            })
    }

    /// Values of the given length, away from 0 by at least `gap` (for kinks like relu's).
    pub fn away_from_zero(n: usize, gap: f32) -> impl Strategy<Value = Vec<f32>> {
        proptest::collection::vec(
            (gap..3.0f32, any::<bool>()).prop_map(|(v, neg)| if neg { -v } else { v }),
            n,
        )
    }

    pub fn assert_ok(report: Report) -> Result<(), TestCaseError> {
        prop_assert!(report.ok(), "gradient mismatch: {report:?}");
        prop_assert!(report.checked > 0, "nothing was checked");
        Ok(())
    }
}
