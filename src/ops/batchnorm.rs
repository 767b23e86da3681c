//! `batchnorm(x, momentum, eps)`: normalise each channel of an image batch `[batch, c,
//! h, w]` (or each feature of a vector batch `[batch, n]`) by the batch's statistics in
//! training and by running statistics at evaluation, then scale and shift it (PyTorch's
//! `BatchNorm2d` and `BatchNorm1d`). The running statistics are buffers: the op reads
//! them at evaluation and moves them after each training step.

use super::function::{X, param};
use super::tensors::Tensors;
use super::{
    ArgKind, Attr, Builtin, Declare, Default, Fill, Layer, Lowering, Onnx, ParamDef, ParamSpec,
    Takes, Torch,
};
use crate::autodiff::{
    Grads, Operand, OperandParams, Params, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError,
    Values, Var, describe_shape,
};
pub use crate::kernels::batchnorm::BatchNorm;
use crate::kernels::batchnorm::{BatchNormGrads, BatchStats};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "batchnorm",
    params: &[
        X,
        ParamDef {
            what: "`momentum`",
            help: "`momentum` is the weight of each batch in the running statistics, PyTorch's default 0.1",
            ..param(
                "momentum",
                ArgKind::OpenFraction,
                Default::Number(0.1, "0.1"),
            )
        },
        ParamDef {
            what: "`eps`",
            help: "`eps` is added to the variance before its square root, PyTorch's default 1e-5",
            ..param("eps", ArgKind::Positive, Default::Number(1e-5, "1e-5"))
        },
    ],
    help: "normalises each channel (image) or feature (vector) by the batch's statistics in training and running statistics at evaluation, then scales and shifts it",
    activation: false,
    takes: Takes::Any,
    example: "x |> batchnorm",
    build: |args| {
        Ok(Box::new(BatchNormLayer {
            momentum: args.number("momentum"),
            eps: args.number("eps"),
        }))
    },
}];

/// The layer: per channel of an image, per feature of a vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormLayer {
    pub momentum: f32,
    pub eps: f32,
}

/// A batch norm's tensors, by PyTorch's names.
pub struct BatchNormTensors<T> {
    pub weight: T,
    pub bias: T,
    pub running_mean: T,
    pub running_var: T,
    /// The number of training batches seen.
    pub num_batches_tracked: T,
}

impl Tensors for BatchNormLayer {
    type Named<T> = BatchNormTensors<T>;

    /// PyTorch's names and order: scale, shift, running mean and variance, and the count
    /// of batches seen.
    fn declare<T>(
        &self,
        inputs: &[Shape],
        tensors: &mut impl Declare<T>,
    ) -> Result<Self::Named<T>, TapeError> {
        let c = Shape::vector(batchnorm_channels(inputs[0]))?;
        Ok(BatchNormTensors {
            weight: tensors.tensor(ParamSpec::trainable("weight", c, Fill::Ones))?,
            bias: tensors.tensor(ParamSpec::trainable("bias", c, Fill::Zeros))?,
            running_mean: tensors.tensor(ParamSpec::buffer("running_mean", c, Fill::Zeros))?,
            running_var: tensors.tensor(ParamSpec::buffer("running_var", c, Fill::Ones))?,
            num_batches_tracked: tensors.tensor(ParamSpec {
                count: true,
                ..ParamSpec::buffer("num_batches_tracked", Shape::scalar(), Fill::Zeros)
            })?,
        })
    }
}

impl Layer for BatchNormLayer {
    fn kind(&self) -> &'static str {
        "batchnorm"
    }

    fn describe(&self) -> String {
        format!("batchnorm(momentum = {}, eps = {})", self.momentum, self.eps)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        batchnorm_shape(inputs[0])
    }

    fn tensors(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        self.specs(inputs)
    }

    /// Subtract, scale, shift; the statistics are two more passes in training.
    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        2 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let x = at.x();
        let t = at.tensors(|shapes, tensors| self.declare(shapes, tensors))?;
        let vars = BatchNormParams {
            gamma: t.weight.var,
            beta: t.bias.var,
            running_mean: t.running_mean.var,
            running_var: t.running_var.var,
            tracked: t.num_batches_tracked.var,
        };
        at.tape.batchnorm(x, vars, self.momentum, self.eps)
    }

    /// At inference, `(x − running_mean) / √(running_var + eps) · weight + bias` along
    /// axis 1 (an image's channels, a vector's features): ONNX's formula outside
    /// training. `num_batches_tracked` only matters to training: not exported.
    fn onnx(&self, at: &mut dyn Onnx) {
        let t = self.onnx_tensors(at);
        let inputs = vec![
            at.input(0),
            at.tensor(t.weight),
            at.tensor(t.bias),
            at.tensor(t.running_mean),
            at.tensor(t.running_var),
        ];
        at.emit(
            "BatchNormalization",
            inputs,
            vec![Attr::Float("epsilon", self.eps)],
        );
    }

    /// `F.batch_norm` in the module's mode: in training, the batch's statistics, which
    /// move the running ones as nnc's do (PyTorch's formula, the unbiased variance), and
    /// one more batch counted, as `nn.BatchNorm2d` counts it.
    fn torch(&self, at: &mut dyn Torch) {
        let t = self.onnx_tensors(at);
        let count = at.tensor(t.num_batches_tracked);
        at.statement(format!("if self.training:\n    {count}.add_(1)"));
        let (weight, bias) = (at.tensor(t.weight), at.tensor(t.bias));
        let (mean, var) = (at.tensor(t.running_mean), at.tensor(t.running_var));
        at.python(format!(
            "F.batch_norm({}, {mean}, {var}, {weight}, {bias}, training=self.training, momentum={}, eps={})",
            at.input(0),
            super::torch::float(self.momentum),
            super::torch::float(self.eps)
        ));
    }
}

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
        let inputs = [
            x,
            params.gamma,
            params.beta,
            params.running_mean,
            params.running_var,
            params.tracked,
        ];
        Ok(self.push(BatchNormRule { momentum, norm }, &inputs, sx))
    }
}

/// The tape's batch norm: operands `x`, scale, shift, running mean and variance, count.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormRule {
    pub momentum: f32,
    pub norm: BatchNorm,
}

/// Scratch: the batch's mean and variance, the backward pass's per-channel sums, the
/// scale's and shift's gradients before they are added to theirs, and (when `x` has no
/// gradient of its own) a stand-in for the input's gradient.
fn batchnorm_aux_len(norm: &BatchNorm, x_has_grad: bool) -> usize {
    6 * norm.channels
        + if x_has_grad {
            0
        } else {
            norm.batch * norm.channels * norm.pixels
        }
}

impl Rule for BatchNormRule {
    fn name(&self) -> &'static str {
        "batchnorm"
    }

    /// Batch statistics, sums, the scale's and shift's gradients.
    fn aux_len(&self, _shape: Shape, inputs: &[Operand]) -> usize {
        batchnorm_aux_len(&self.norm, inputs[0].needs_grad)
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, run: Run<'_>) {
        let (norm, x) = (&self.norm, cx.input(0));
        let (gamma, beta) = (cx.input(1), cx.input(2));
        if run.training {
            let (mean, rest) = scratch.aux.split_at_mut(norm.channels);
            let var = &mut rest[..norm.channels];
            norm.forward_train(x, gamma, beta, mean, var, out);
        } else {
            let running = BatchStats {
                mean: cx.input(3),
                var: cx.input(4),
            };
            norm.forward_eval(x, gamma, beta, running, out);
        }
    }

    /// `∂L/∂β = Σ ∂L/∂y`, `∂L/∂γ = Σ ∂L/∂y·x̂`, and `∂L/∂x` through the batch's mean and
    /// variance (see the kernel); training mode only, as every gradient in this engine.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let norm = &self.norm;
        let c = norm.channels;
        let (stats, rest) = scratch.aux.split_at_mut(2 * c);
        let (mean, var) = stats.split_at(c);
        let (sums, rest) = rest.split_at_mut(2 * c);
        let (grad_gamma, rest) = rest.split_at_mut(c);
        let (grad_beta, stand_in) = rest.split_at_mut(c);
        grad_gamma.fill(0.0);
        grad_beta.fill(0.0);
        let stats = BatchStats { mean, var };
        let (x, gamma_var, beta_var) = (cx.inputs[0], cx.inputs[1], cx.inputs[2]);
        let (x_values, gamma) = (cx.get(x), cx.get(gamma_var));
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
        if let Some(g) = grads.get_mut(gamma_var) {
            simd::add_assign(grad_gamma, g);
        }
        if let Some(g) = grads.get_mut(beta_var) {
            simd::add_assign(grad_beta, g);
        }
    }

    /// Moves the running statistics toward the batch statistics of the step's forward
    /// pass, as PyTorch does (`running = (1 − momentum)·running + momentum·batch`, the
    /// variance unbiased), and counts the batch.
    fn after_training_step(&self, aux: &[f32], operands: OperandParams<'_>, store: &mut Params) {
        let norm = &self.norm;
        let (mean, var) = aux[..2 * norm.channels].split_at(norm.channels);
        let [Some(running_mean), Some(running_var), Some(tracked)] =
            [3, 4, 5].map(|k| operands.param(k))
        else {
            // Statistics recorded as plain values (a test's inputs) have nowhere to go.
            return;
        };
        let (running_mean, running_var) = store.two_values_mut(running_mean, running_var);
        norm.update_running(
            self.momentum,
            BatchStats { mean, var },
            running_mean,
            running_var,
        );
        for count in store.value_mut(tracked) {
            *count += 1.0;
        }
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
    fn a_training_step_moves_the_running_statistics_as_pytorch_does() {
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
        let y = tape.batchnorm(x, vars, 0.1, 1e-5).unwrap();
        let loss = tape.sum(y);
        tape.value_mut(x)
            .unwrap()
            .copy_from_slice(&[1.0, 2.0, 3.0, 4.0]);
        tape.forward(&params);
        tape.backward(loss, &mut params);
        // mean 2.5; unbiased variance 5/3.
        assert!((params.value(mean)[0] - 0.25).abs() < 1e-6);
        assert!((params.value(var)[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
        assert_eq!(params.value(tracked), [1.0]);
        // Evaluation reads them and leaves them alone.
        tape.set_training(false);
        tape.forward(&params);
        tape.backward(loss, &mut params);
        assert_eq!(params.value(tracked), [1.0]);
    }
}
