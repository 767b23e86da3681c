//! `batchnorm`: normalise each channel of an image batch `[batch, c, h, w]` (or each
//! feature of a vector batch `[batch, n]`) by the batch's statistics in training and by
//! running statistics at evaluation, then scale and shift it (PyTorch's `BatchNorm2d` and
//! `BatchNorm1d`). The running statistics are buffers in `Params`: the op reads them at
//! evaluation, and [`Tape::update_running_stats`] moves them after a training forward.

use super::super::{Params, Shape, ShapeError, Tape, TapeError, Var, describe_shape};
use super::{Grads, Op, Values};
use crate::kernels::batchnorm::{BatchNorm, BatchNormGrads, BatchStats};
use crate::kernels::simd;

/// The shape rule of `batchnorm`: a vector or an image keeps its shape.
pub fn batchnorm_shape(x: Shape) -> Result<Shape, ShapeError> {
    match x.rank() {
        1 | 3 => Ok(x),
        _ => Err(ShapeError::new(
            format!(
                "`batchnorm` takes a vector or an image, found {}",
                describe_shape(x)
            ),
            "not a vector or an image",
        )),
    }
}

/// The channels a per-sample shape is normalised over: an image's `c`, a vector's features.
pub fn batchnorm_channels(x: Shape) -> usize {
    match x.rank() {
        3 => x.dim(0),
        _ => x.numel(),
    }
}

/// The tensors of one batch-norm layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchNormParams {
    pub gamma: Var,
    pub beta: Var,
    pub running_mean: Var,
    pub running_var: Var,
    /// The number of training batches seen (PyTorch's `num_batches_tracked`).
    pub tracked: Var,
}

impl Tape {
    /// Batch normalisation of `x` (`[batch, c, h, w]` or `[batch, n]`) with scale `gamma`,
    /// shift `beta` and running statistics, all `[c]` (or `[n]`).
    pub fn batchnorm(
        &mut self,
        x: Var,
        params: BatchNormParams,
        momentum: f32,
        eps: f32,
    ) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        let sample = sx.per_sample();
        batchnorm_shape(sample).map_err(|e| TapeError::Invalid {
            op: "batchnorm",
            why: e.message,
        })?;
        let channels = batchnorm_channels(sample);
        for v in [
            params.gamma,
            params.beta,
            params.running_mean,
            params.running_var,
        ] {
            if self.shape(v) != Shape::vector(channels)? {
                return Err(TapeError::Shape {
                    op: "batchnorm",
                    left: sx,
                    right: self.shape(v),
                    why: "scale, shift and running statistics have one value per channel",
                });
            }
        }
        let norm = BatchNorm {
            batch: sx.dim(0),
            channels,
            pixels: sample.numel() / channels.max(1),
            eps,
        };
        Ok(self.push(
            Op::BatchNorm {
                x,
                params,
                momentum,
                norm,
            },
            sx,
        ))
    }

    /// Moves every batch norm's running statistics toward the batch statistics of the
    /// last training forward pass, as PyTorch does (`running = (1 − momentum)·running +
    /// momentum·batch`, the variance unbiased), and counts the batch. Call once after each
    /// training forward; evaluation and gradient checks never call it.
    pub fn update_running_stats(&self, params: &mut Params) {
        if !self.is_training() {
            return;
        }
        for index in 0..self.len() {
            let Op::BatchNorm {
                params: p,
                momentum,
                norm,
                ..
            } = self.nodes[index].op
            else {
                continue;
            };
            let aux = self.aux(index);
            let (mean, var) = aux[..2 * norm.channels].split_at(norm.channels);
            let id = |v: Var| match self.nodes[v.index()].op {
                Op::Param(id) => id,
                _ => unreachable!("`batchnorm` records its statistics as parameters"),
            };
            let (running_mean, running_var) =
                params.two_values_mut(id(p.running_mean), id(p.running_var));
            norm.update_running(
                momentum,
                BatchStats { mean, var },
                running_mean,
                running_var,
            );
            for count in params.value_mut(id(p.tracked)) {
                *count += 1.0;
            }
        }
    }
}

/// Scratch: the batch's mean and variance, the backward pass's per-channel sums, the
/// scale's and shift's gradients before they are added to theirs, and (when `x` has no
/// gradient of its own) a stand-in for the input's gradient.
pub(super) fn batchnorm_aux_len(norm: &BatchNorm, x_has_grad: bool) -> usize {
    6 * norm.channels
        + if x_has_grad {
            0
        } else {
            norm.batch * norm.channels * norm.pixels
        }
}

pub(super) fn batchnorm_forward(
    cx: &Values<'_>,
    (x, p, norm): (Var, &BatchNormParams, &BatchNorm),
    training: bool,
    out: &mut [f32],
    aux: &mut [f32],
) {
    let (gamma, beta) = (cx.get(p.gamma), cx.get(p.beta));
    if training {
        let (mean, rest) = aux.split_at_mut(norm.channels);
        let var = &mut rest[..norm.channels];
        norm.forward_train(cx.get(x), gamma, beta, mean, var, out);
    } else {
        let running = BatchStats {
            mean: cx.get(p.running_mean),
            var: cx.get(p.running_var),
        };
        norm.forward_eval(cx.get(x), gamma, beta, running, out);
    }
}

/// `∂L/∂β = Σ ∂L/∂y`, `∂L/∂γ = Σ ∂L/∂y·x̂`, and `∂L/∂x` through the batch's mean and
/// variance (see the kernel); training mode only, as every gradient in this engine.
pub(super) fn batchnorm_backward(
    cx: &Values<'_>,
    (x, p, norm): (Var, &BatchNormParams, &BatchNorm),
    grad_out: &[f32],
    aux: &mut [f32],
    grads: &mut Grads<'_>,
) {
    let c = norm.channels;
    let (stats, rest) = aux.split_at_mut(2 * c);
    let (mean, var) = stats.split_at(c);
    let (sums, rest) = rest.split_at_mut(2 * c);
    let (grad_gamma, rest) = rest.split_at_mut(c);
    let (grad_beta, stand_in) = rest.split_at_mut(c);
    grad_gamma.fill(0.0);
    grad_beta.fill(0.0);
    let stats = BatchStats { mean, var };
    let (x_values, gamma) = (cx.get(x), cx.get(p.gamma));
    match grads.get_mut(x) {
        Some(grad_x) => {
            let into = BatchNormGrads {
                x: grad_x,
                gamma: grad_gamma,
                beta: grad_beta,
            };
            norm.backward(x_values, gamma, stats, grad_out, into, sums);
        }
        None => {
            stand_in.fill(0.0);
            let into = BatchNormGrads {
                x: stand_in,
                gamma: grad_gamma,
                beta: grad_beta,
            };
            norm.backward(x_values, gamma, stats, grad_out, into, sums);
        }
    }
    if let Some(g) = grads.get_mut(p.gamma) {
        simd::add_assign(grad_gamma, g);
    }
    if let Some(g) = grads.get_mut(p.beta) {
        simd::add_assign(grad_beta, g);
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::autodiff::gradcheck::check_tape;

    /// Records `batchnorm` of an `x` of `dims` (a parameter, so its gradient is checked
    /// too) and a loss `Σ y ∘ r`, and checks every gradient.
    fn check(dims: &[usize], values: &[f32]) -> crate::autodiff::gradcheck::Report {
        let shape = Shape::new(dims).unwrap();
        let channels = batchnorm_channels(shape.per_sample());
        let mut params = Params::new();
        let n = shape.numel();
        // Samples at least one unit apart (values in [-2, 2], each sample shifted by 5), so
        // that no channel's variance is near `eps`: there the function bends on a scale
        // far below the difference step.
        let per_sample = n / dims[0];
        let x_values = values[..n]
            .iter()
            .enumerate()
            .map(|(i, v)| v + 5.0 * (i / per_sample) as f32)
            .collect();
        let x = params.add("x", shape, x_values).unwrap();
        let c = Shape::vector(channels).unwrap();
        let gamma = params
            .add(
                "gamma",
                c,
                values[n..n + channels].iter().map(|v| 1.0 + v).collect(),
            )
            .unwrap();
        let beta = params
            .add("beta", c, values[n + channels..n + 2 * channels].to_vec())
            .unwrap();
        let mean = params.add_buffer("mean", c, vec![0.0; channels]).unwrap();
        let var = params.add_buffer("var", c, vec![1.0; channels]).unwrap();
        let tracked = params
            .add_buffer("tracked", Shape::scalar(), vec![0.0])
            .unwrap();
        let mut tape = Tape::new();
        let vars = BatchNormParams {
            gamma: tape.param(&params, gamma),
            beta: tape.param(&params, beta),
            running_mean: tape.param(&params, mean),
            running_var: tape.param(&params, var),
            tracked: tape.param(&params, tracked),
        };
        let x = tape.param(&params, x);
        let y = tape.batchnorm(x, vars, 0.1, 1e-5).unwrap();
        let weights = tape.input(shape);
        let weighted = tape.mul(y, weights).unwrap();
        let loss = tape.sum(weighted);
        for (i, w) in tape.value_mut(weights).unwrap().iter_mut().enumerate() {
            *w = ((i * 7919) % 13) as f32 / 6.0 - 1.0;
        }
        check_tape(&mut tape, &mut params, loss, 64)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn batchnorm_matches_central_differences(
            (batch, c, hw, image) in (2usize..4, 1usize..4, 1usize..4, any::<bool>()),
            values in vec(-2.0f32..2.0, 4 * 3 * 9 + 6),
        ) {
            let dims = if image { vec![batch, c, hw, hw + 1] } else { vec![batch, c * hw] };
            let report = check(&dims, &values);
            prop_assert!(report.ok(), "{report:?}");
        }
    }

    #[test]
    fn running_statistics_move_as_pytorch_moves_them() {
        let mut params = Params::new();
        let c = Shape::vector(1).unwrap();
        let gamma = params.add("g", c, vec![1.0]).unwrap();
        let beta = params.add("b", c, vec![0.0]).unwrap();
        let mean = params.add_buffer("m", c, vec![0.0]).unwrap();
        let var = params.add_buffer("v", c, vec![1.0]).unwrap();
        let tracked = params.add_buffer("t", Shape::scalar(), vec![0.0]).unwrap();
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(4, 1).unwrap());
        let vars = BatchNormParams {
            gamma: tape.param(&params, gamma),
            beta: tape.param(&params, beta),
            running_mean: tape.param(&params, mean),
            running_var: tape.param(&params, var),
            tracked: tape.param(&params, tracked),
        };
        tape.batchnorm(x, vars, 0.1, 1e-5).unwrap();
        tape.value_mut(x)
            .unwrap()
            .copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
        tape.forward(&params);
        tape.update_running_stats(&mut params);
        // mean 2.5; unbiased variance 5/3.
        assert!((params.value(mean)[0] - 0.25).abs() < 1e-6);
        assert!((params.value(var)[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
        assert_eq!(params.value(tracked), [1.0]);
    }
}
