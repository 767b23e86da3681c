//! Reductions: sums, and the row-wise softmax family (max-subtracted for stability).

use super::simd::{self, LANES, Lanes, exp_lanes};

/// Σ x, with one partial sum per lane in a fixed order (so the result depends only on `x`).
pub fn sum(x: &[f32]) -> f32 {
    let (x8, tail) = x.as_chunks::<LANES>();
    let mut acc = Lanes::ZERO;
    for xs in x8 {
        acc += Lanes::new(*xs);
    }
    let mut padded = [0.0; LANES];
    padded[..tail.len()].copy_from_slice(tail);
    simd::sum_lanes(acc + Lanes::new(padded))
}

/// Σ aᵢ·bᵢ.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: lengths differ");
    let (a8, a_tail) = a.as_chunks::<LANES>();
    let (b8, b_tail) = b.as_chunks::<LANES>();
    let mut acc = Lanes::ZERO;
    for (as_, bs) in a8.iter().zip(b8) {
        acc = Lanes::new(*as_).mul_add(Lanes::new(*bs), acc);
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(a, b)| a * b).sum();
    simd::sum_lanes(acc) + tail
}

/// The largest element (−∞ for an empty slice; NaN-free input assumed for the order).
pub fn max(x: &[f32]) -> f32 {
    x.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Row-wise softmax of `x` (`[rows, cols]`): `y = e^(x − max) / Σ e^(x − max)`.
pub fn softmax_rows(x: &[f32], cols: usize, y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "softmax: lengths differ");
    if cols == 0 {
        return;
    }
    if cols <= LANE_ROWS_MAX_COLS {
        return across_rows(x, cols, y, |columns, max| {
            let mut total = Lanes::ZERO;
            for column in columns.iter_mut() {
                *column = exp_lanes(*column - max);
                total += *column;
            }
            let inv = Lanes::ONE / total;
            columns.iter_mut().for_each(|c| *c *= inv);
        });
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        simd::add_scalar(-max(xr), xr, yr);
        let yr_in: &mut [f32] = yr;
        exp_in_place(yr_in);
        let inv = 1.0 / sum(yr_in);
        yr_in.iter_mut().for_each(|v| *v *= inv);
    }
}

/// Row-wise `log softmax`: `y = x − max − ln Σ e^(x − max)`.
pub fn log_softmax_rows(x: &[f32], cols: usize, y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "log_softmax: lengths differ");
    if cols == 0 {
        return;
    }
    if cols <= LANE_ROWS_MAX_COLS {
        return across_rows(x, cols, y, |columns, max| {
            let mut total = Lanes::ZERO;
            for column in columns.iter_mut() {
                *column -= max;
                total += exp_lanes(*column);
            }
            let log_sum = total.ln();
            columns.iter_mut().for_each(|c| *c -= log_sum);
        });
    }
    for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let m = max(xr);
        simd::add_scalar(-m, xr, yr);
        let log_sum = log_sum_exp_shifted(yr);
        yr.iter_mut().for_each(|v| *v -= log_sum);
    }
}

/// Rows this short (a classifier's ten scores) are computed `LANES` at a time, one row per
/// lane, by [`across_rows`]: one vector operation per column instead of a padded vector
/// and a horizontal sum per row, which cost about ten times more at ten columns.
const LANE_ROWS_MAX_COLS: usize = 32;

/// Applies `finish(columns, max)` to groups of `LANES` rows of `x` (`[rows, cols]`,
/// `cols ≤` [`LANE_ROWS_MAX_COLS`]) held transposed, lane `l` of `columns[j]` being row
/// `l`'s column `j`, and `max` each lane's largest value; writes the result to `y`. The
/// last group is padded with rows of zeros. Every lane runs the same operations, so a
/// row's result does not depend on its position in the batch, nor on the batch size.
fn across_rows(x: &[f32], cols: usize, y: &mut [f32], finish: impl Fn(&mut [Lanes], Lanes)) {
    let mut lanes = [[0.0f32; LANES]; LANE_ROWS_MAX_COLS];
    let mut columns = [Lanes::ZERO; LANE_ROWS_MAX_COLS];
    for (xs, ys) in x.chunks(LANES * cols).zip(y.chunks_mut(LANES * cols)) {
        let lanes = &mut lanes[..cols];
        if xs.len() < LANES * cols {
            lanes.iter_mut().for_each(|l| *l = [0.0; LANES]);
        }
        for (l, row) in xs.chunks_exact(cols).enumerate() {
            for (lane, &v) in lanes.iter_mut().zip(row) {
                lane[l] = v;
            }
        }
        let columns = &mut columns[..cols];
        for (column, lane) in columns.iter_mut().zip(lanes.iter()) {
            *column = Lanes::new(*lane);
        }
        // NaN-ignoring like `max`: a NaN still reaches the row's every output through
        // its sum.
        let max = columns[1..].iter().fold(columns[0], |m, &c| m.max(c));
        finish(columns, max);
        for (lane, column) in lanes.iter_mut().zip(columns.iter()) {
            *lane = column.to_array();
        }
        for (l, row) in ys.chunks_exact_mut(cols).enumerate() {
            for (v, lane) in row.iter_mut().zip(lanes.iter()) {
                *v = lane[l];
            }
        }
    }
}

/// `ln Σ e^v` of a row already shifted so that its max is 0 (so the sum is in [1, n]).
fn log_sum_exp_shifted(row: &[f32]) -> f32 {
    let mut total = Lanes::ZERO;
    let (r8, tail) = row.as_chunks::<LANES>();
    for rs in r8 {
        total += exp_lanes(Lanes::new(*rs));
    }
    if !tail.is_empty() {
        let mut padded = [f32::NEG_INFINITY; LANES];
        padded[..tail.len()].copy_from_slice(tail);
        total += exp_lanes(Lanes::new(padded));
    }
    simd::ln_one(simd::sum_lanes(total))
}

fn exp_in_place(v: &mut [f32]) {
    let (v8, tail) = v.as_chunks_mut::<LANES>();
    for vs in v8 {
        *vs = exp_lanes(Lanes::new(*vs)).to_array();
    }
    if !tail.is_empty() {
        let mut padded = [0.0; LANES];
        padded[..tail.len()].copy_from_slice(tail);
        let e = exp_lanes(Lanes::new(padded)).to_array();
        let n = tail.len();
        tail.copy_from_slice(&e[..n]);
    }
}

/// Softmax backward, row-wise: `grad_x += y ∘ (grad_y − ⟨grad_y, y⟩)`.
pub fn softmax_backward_rows(y: &[f32], grad_y: &[f32], cols: usize, grad_x: &mut [f32]) {
    if cols == 0 {
        return;
    }
    for ((yr, gyr), gxr) in y
        .chunks_exact(cols)
        .zip(grad_y.chunks_exact(cols))
        .zip(grad_x.chunks_exact_mut(cols))
    {
        let inner = dot(gyr, yr);
        for ((gx, &y), &gy) in gxr.iter_mut().zip(yr).zip(gyr) {
            *gx += y * (gy - inner);
        }
    }
}

/// Log-softmax backward, row-wise: `grad_x += grad_y − e^y · Σ grad_y` (`y` = log-probs).
pub fn log_softmax_backward_rows(y: &[f32], grad_y: &[f32], cols: usize, grad_x: &mut [f32]) {
    if cols == 0 {
        return;
    }
    for ((yr, gyr), gxr) in y
        .chunks_exact(cols)
        .zip(grad_y.chunks_exact(cols))
        .zip(grad_x.chunks_exact_mut(cols))
    {
        let total = Lanes::splat(sum(gyr));
        simd::zip2(yr, gyr, gxr, |y, gy, gx| gx + (gy - exp_lanes(y) * total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn rows_cols() -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
        (
            0usize..40,
            prop_oneof![
                Just(1usize),
                Just(7),
                Just(8),
                Just(9),
                Just(10),
                Just(32),
                Just(33),
                2usize..300
            ],
        )
            .prop_flat_map(|(r, c)| (Just(r), Just(c), vec(-40.0f32..40.0, r * c)))
    }

    fn reference_softmax(row: &[f32]) -> Vec<f64> {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    proptest! {
        #[test]
        fn softmax_and_log_softmax_match_f64((rows, cols, x) in rows_cols()) {
            let mut y = vec![0.0; x.len()];
            softmax_rows(&x, cols, &mut y);
            let mut ly = vec![0.0; x.len()];
            log_softmax_rows(&x, cols, &mut ly);
            for r in 0..rows {
                let want = reference_softmax(&x[r * cols..(r + 1) * cols]);
                for c in 0..cols {
                    let (got, w) = (y[r * cols + c] as f64, want[c]);
                    prop_assert!((got - w).abs() <= 1e-6 + 1e-5 * w, "softmax {got} vs {w}");
                    let (lgot, lw) = (ly[r * cols + c] as f64, w.ln());
                    prop_assert!((lgot - lw).abs() <= 1e-5 * (1.0 + lw.abs()), "log_softmax {lgot} vs {lw}");
                }
            }
        }

        /// A row's probabilities are the same bits alone as in any batch, in any position
        /// (both paths: rows in lanes and row by row).
        #[test]
        fn a_rows_result_does_not_depend_on_the_batch((rows, cols, x) in rows_cols()) {
            let (mut y, mut ly) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            softmax_rows(&x, cols, &mut y);
            log_softmax_rows(&x, cols, &mut ly);
            for r in 0..rows {
                let row = r * cols..(r + 1) * cols;
                let (mut alone, mut log_alone) = (vec![0.0; cols], vec![0.0; cols]);
                softmax_rows(&x[row.clone()], cols, &mut alone);
                log_softmax_rows(&x[row.clone()], cols, &mut log_alone);
                prop_assert!(alone.iter().zip(&y[row.clone()]).all(|(a, b)| a.to_bits() == b.to_bits()), "softmax row {r} of {rows}");
                prop_assert!(log_alone.iter().zip(&ly[row]).all(|(a, b)| a.to_bits() == b.to_bits()), "log_softmax row {r} of {rows}");
            }
        }

        #[test]
        fn sums_match_f64(x in prop_oneof![vec(-10.0f32..10.0, 0..=1), vec(-10.0f32..10.0, 7..=9), vec(-10.0f32..10.0, 100..3000)]) {
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            prop_assert!((sum(&x) as f64 - want).abs() <= 1e-4 * (1.0 + x.len() as f64).sqrt() * 10.0);
            let want_dot: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
            prop_assert!((dot(&x, &x) as f64 - want_dot).abs() <= 1e-5 * want_dot + 1e-4);
        }

        #[test]
        fn softmax_backward_matches_the_jacobian((rows, cols, x) in rows_cols()) {
            let mut y = vec![0.0; x.len()];
            softmax_rows(&x, cols, &mut y);
            let gy: Vec<f32> = (0..x.len()).map(|i| ((i * 7) % 5) as f32 - 2.0).collect();
            let mut gx = vec![0.0; x.len()];
            softmax_backward_rows(&y, &gy, cols, &mut gx);
            let mut ly = vec![0.0; x.len()];
            log_softmax_rows(&x, cols, &mut ly);
            let mut lgx = vec![0.0; x.len()];
            log_softmax_backward_rows(&ly, &gy, cols, &mut lgx);
            for r in 0..rows {
                let s = r * cols;
                for i in 0..cols {
                    // J_softmax[j][i] = y_j (δ_ij − y_i); J_logsoftmax[j][i] = δ_ij − y_i.
                    let want: f64 = (0..cols).map(|j| gy[s + j] as f64 * y[s + j] as f64 * ((i == j) as u8 as f64 - y[s + i] as f64)).sum();
                    prop_assert!((gx[s + i] as f64 - want).abs() <= 1e-5);
                    let lwant: f64 = (0..cols).map(|j| gy[s + j] as f64 * ((i == j) as u8 as f64 - y[s + i] as f64)).sum();
                    prop_assert!((lgx[s + i] as f64 - lwant).abs() <= 1e-4);
                }
            }
        }
    }
}
