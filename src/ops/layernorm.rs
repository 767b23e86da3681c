//! `layernorm(x, eps)`: normalise each sample over its last axis (a vector's features, or
//! the channels of each pixel of an image) by its own mean and variance, then scale and
//! shift by learnt `weight` and `bias` (PyTorch's `nn.LayerNorm` over that axis, its
//! names). No batch statistics: training and evaluation compute the same.
//!
//! Each normalised group is summed in one fixed order, in `f64`, so the bits depend on
//! nothing but the values.

use super::function::{X, param};
use super::tensors::Tensors;
use super::{
    ArgKind, Attr, Builtin, Declare, Default, Fill, Layer, Lowering, Onnx, ParamDef, ParamSpec,
    Takes,
};
use crate::autodiff::{
    Grads, Operand, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var,
    describe_shape,
};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "layernorm",
    params: &[
        X,
        ParamDef {
            what: "`eps`",
            help: "`eps` is added to the variance before its square root, PyTorch's default 1e-5",
            ..param("eps", ArgKind::Positive, Default::Number(1e-5, "1e-5"))
        },
    ],
    help: "normalises each sample over its last axis (a vector's features, an image's channels at each pixel), then scales and shifts it",
    activation: false,
    takes: Takes::Any,
    example: "x |> layernorm",
    build: |args| {
        Ok(Box::new(LayerNorm {
            eps: args.number("eps"),
        }))
    },
}];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNorm {
    pub eps: f32,
}

/// How a per-sample shape is normalised: `features` values per group (a vector's length,
/// an image's channels), `stride` apart (1, or an image's pixels), `pixels` groups per
/// sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Groups {
    features: usize,
    pixels: usize,
}

impl Groups {
    fn of(sample: Shape) -> Groups {
        match sample.rank() {
            3 => Groups {
                features: sample.dim(0),
                pixels: sample.dim(1) * sample.dim(2),
            },
            _ => Groups {
                features: sample.numel(),
                pixels: 1,
            },
        }
    }
}

/// The tensors of a layer norm, PyTorch's names.
pub struct LayerNormTensors<T> {
    pub weight: T,
    pub bias: T,
}

impl Tensors for LayerNorm {
    type Named<T> = LayerNormTensors<T>;

    fn declare<T>(
        &self,
        inputs: &[Shape],
        tensors: &mut impl Declare<T>,
    ) -> Result<Self::Named<T>, TapeError> {
        let n = Shape::vector(Groups::of(inputs[0]).features)?;
        Ok(LayerNormTensors {
            weight: tensors.tensor(ParamSpec::trainable("weight", n, Fill::Ones))?,
            bias: tensors.tensor(ParamSpec::trainable("bias", n, Fill::Zeros))?,
        })
    }
}

impl Layer for LayerNorm {
    fn kind(&self) -> &'static str {
        "layernorm"
    }

    fn describe(&self) -> String {
        format!("layernorm(eps = {})", self.eps)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        match x.rank() {
            1 | 3 => Ok(x),
            _ => Err(ShapeError::new(
                format!("`layernorm` takes a vector or an image, found {}", describe_shape(x)),
                "not a vector or an image",
            )),
        }
    }

    fn tensors(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        self.specs(inputs)
    }

    /// Mean, variance, normalise, scale and shift: about five per value.
    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        5 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let x = at.x();
        let t = at.tensors(|shapes, tensors| self.declare(shapes, tensors))?;
        at.tape.layernorm(x, t.weight.var, t.bias.var, self.eps)
    }

    /// ONNX's `LayerNormalization` over the last axis; an image's channels are moved
    /// last for it and back.
    fn onnx(&self, at: &mut dyn Onnx) {
        let t = self.onnx_tensors(at);
        let (weight, bias) = (at.tensor(t.weight), at.tensor(t.bias));
        let eps = Attr::Float("epsilon", self.eps);
        if at.input_shape(0).rank() == 3 {
            let last = at.emit_value(
                "channels_last",
                "Transpose",
                vec![at.input(0)],
                vec![Attr::Ints("perm", vec![0, 2, 3, 1])],
            );
            let normed = at.emit_value(
                "normed",
                "LayerNormalization",
                vec![last, weight, bias],
                vec![Attr::Int("axis", -1), eps],
            );
            at.emit(
                "Transpose",
                vec![normed],
                vec![Attr::Ints("perm", vec![0, 3, 1, 2])],
            );
        } else {
            at.emit(
                "LayerNormalization",
                vec![at.input(0), weight, bias],
                vec![Attr::Int("axis", -1), eps],
            );
        }
    }
}

impl Tape {
    /// Layer normalisation of `x` (`[batch, n]`, or `[batch, c, h, w]` over `c`) with
    /// scale `weight` and shift `bias`, both of the normalised axis' length.
    pub fn layernorm(
        &mut self,
        x: Var,
        weight: Var,
        bias: Var,
        eps: f32,
    ) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        let groups = Groups::of(sx.per_sample());
        for v in [weight, bias] {
            if self.shape(v) != Shape::vector(groups.features)? {
                return Err(TapeError::Shape {
                    op: "layernorm",
                    left: sx,
                    right: self.shape(v),
                    why: "scale and shift have one value per normalised feature",
                });
            }
        }
        let rule = LayerNormRule {
            batch: sx.dim(0),
            groups,
            eps,
        };
        Ok(self.push(rule, &[x, weight, bias], sx))
    }
}

/// The tape's layer norm: operands `x`, scale, shift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNormRule {
    batch: usize,
    groups: Groups,
    eps: f32,
}

impl LayerNormRule {
    /// Every group: its index, and the offset of its first value (the rest are `stride`
    /// apart).
    fn groups(&self) -> impl Iterator<Item = (usize, usize)> {
        let Groups { features, pixels } = self.groups;
        (0..self.batch * pixels).map(move |g| {
            let (sample, pixel) = (g / pixels, g % pixels);
            (g, sample * features * pixels + pixel)
        })
    }
}

impl Rule for LayerNormRule {
    fn name(&self) -> &'static str {
        "layernorm"
    }

    /// Each group's mean and `1/√(var + eps)`.
    fn aux_len(&self, _shape: Shape, _inputs: &[Operand]) -> usize {
        2 * self.batch * self.groups.pixels
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, _run: Run<'_>) {
        let (x, weight, bias) = (cx.input(0), cx.input(1), cx.input(2));
        let Groups { features, pixels } = self.groups;
        let stride = pixels;
        let (means, rstds) = scratch.aux.split_at_mut(self.batch * pixels);
        for (g, base) in self.groups() {
            let at = |k: usize| base + k * stride;
            let mean = (0..features).map(|k| f64::from(x[at(k)])).sum::<f64>() / features as f64;
            let var = (0..features)
                .map(|k| (f64::from(x[at(k)]) - mean).powi(2))
                .sum::<f64>()
                / features as f64;
            let rstd = 1.0 / (var + f64::from(self.eps)).sqrt();
            for k in 0..features {
                let normed = ((f64::from(x[at(k)]) - mean) * rstd) as f32;
                out[at(k)] = normed * weight[k] + bias[k];
            }
            means[g] = mean as f32;
            rstds[g] = rstd as f32;
        }
    }

    /// With `x̂ = (x − mean)·rstd` and `g = ∂L/∂y · weight`:
    /// `∂L/∂x = rstd · (g − mean(g) − x̂ · mean(g · x̂))`, `∂L/∂weight = Σ ∂L/∂y · x̂`,
    /// `∂L/∂bias = Σ ∂L/∂y`, the sums over every group.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let Groups { features, pixels } = self.groups;
        let stride = pixels;
        let (x, weight) = (cx.input(0), cx.input(1));
        let (means, rstds) = scratch.aux.split_at(self.batch * pixels);
        let xhat = |g: usize, i: usize| (x[i] - means[g]) * rstds[g];
        let [xv, wv, bv] = [0, 1, 2].map(|k| cx.inputs[k]);
        if let Some(grad_x) = grads.get_mut(xv) {
            for (g, base) in self.groups() {
                let at = |k: usize| base + k * stride;
                let (mut mean_g, mut mean_gx) = (0.0f64, 0.0f64);
                for k in 0..features {
                    let gk = f64::from(grad_out[at(k)] * weight[k]);
                    mean_g += gk;
                    mean_gx += gk * f64::from(xhat(g, at(k)));
                }
                mean_g /= features as f64;
                mean_gx /= features as f64;
                for k in 0..features {
                    let gk = f64::from(grad_out[at(k)] * weight[k]);
                    let dx = f64::from(rstds[g])
                        * (gk - mean_g - f64::from(xhat(g, at(k))) * mean_gx);
                    grad_x[at(k)] += dx as f32;
                }
            }
        }
        if let Some(grad_w) = grads.get_mut(wv) {
            let mut sums = vec![0.0f64; features];
            for (g, base) in self.groups() {
                for (k, sum) in sums.iter_mut().enumerate() {
                    let i = base + k * stride;
                    *sum += f64::from(grad_out[i] * xhat(g, i));
                }
            }
            for (gw, s) in grad_w.iter_mut().zip(sums) {
                *gw += s as f32;
            }
        }
        if let Some(grad_b) = grads.get_mut(bv) {
            let mut sums = vec![0.0f64; features];
            for (_, base) in self.groups() {
                for (k, sum) in sums.iter_mut().enumerate() {
                    *sum += f64::from(grad_out[base + k * stride]);
                }
            }
            for (gb, s) in grad_b.iter_mut().zip(sums) {
                *gb += s as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::autodiff::Params;
    use crate::autodiff::gradcheck::check_tape;

    /// `layernorm` of an `x` of `dims` (a parameter, so its gradient is checked too) under
    /// a loss `Σ y ∘ r`; every gradient checked.
    fn check(dims: &[usize], values: &[f32]) -> crate::autodiff::gradcheck::Report {
        let shape = Shape::new(dims).unwrap();
        let n = Groups::of(shape.per_sample()).features;
        let total = shape.numel();
        let mut params = Params::new();
        let x = params.add("x", shape, values[..total].to_vec()).unwrap();
        let v = Shape::vector(n).unwrap();
        let w = params
            .add("w", v, values[total..total + n].iter().map(|v| 1.0 + v).collect())
            .unwrap();
        let b = params
            .add("b", v, values[total + n..total + 2 * n].to_vec())
            .unwrap();
        let mut tape = Tape::new();
        let (w, b) = (tape.param(&params, w), tape.param(&params, b));
        let x = tape.param(&params, x);
        let y = tape.layernorm(x, w, b, 1e-5).unwrap();
        let r = tape.input(shape);
        let weighted = tape.mul(y, r).unwrap();
        let loss = tape.sum(weighted);
        let weights: Vec<f32> = (0..total).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        tape.value_mut(r).unwrap().copy_from_slice(&weights);
        check_tape(&mut tape, &mut params, loss, 64)
    }

    #[test]
    fn each_sample_is_normalised_over_its_last_axis() {
        let mut params = Params::new();
        let shape = Shape::new(&[2, 2, 1, 2]).unwrap();
        // Two images of two channels at two pixels: channels of pixel 0 are (1, 3), ...
        let x = params
            .add("x", shape, vec![1.0, 10.0, 3.0, 30.0, 0.0, 5.0, 2.0, 5.0])
            .unwrap();
        let w = params.add("w", Shape::vector(2).unwrap(), vec![1.0, 1.0]).unwrap();
        let b = params.add("b", Shape::vector(2).unwrap(), vec![0.0, 0.0]).unwrap();
        let mut tape = Tape::new();
        let (x, w, b) = (tape.param(&params, x), tape.param(&params, w), tape.param(&params, b));
        let y = tape.layernorm(x, w, b, 1e-6).unwrap();
        tape.forward(&params);
        let got = tape.value(y);
        // Pairs (a, b) normalise to (−1, 1) when a < b; equal values to (0, 0).
        let expected = [-1.0, -1.0, 1.0, 1.0, -1.0, 0.0, 1.0, 0.0];
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-5, "{got:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn vector_gradients_match_central_differences(values in vec(-2.0f32..2.0, 3 * 5 + 10)) {
            let report = check(&[3, 5], &values);
            prop_assert!(report.ok(), "{report:?}");
        }

        #[test]
        fn image_gradients_match_central_differences(values in vec(-2.0f32..2.0, 2 * 3 * 2 * 2 + 6)) {
            let report = check(&[2, 3, 2, 2], &values);
            prop_assert!(report.ok(), "{report:?}");
        }
    }
}
