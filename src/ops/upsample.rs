//! `upsample(x, factor)`: an image made `factor` times larger each way by nearest
//! neighbour, `[c, h, w] → [c, h·factor, w·factor]`: every pixel becomes a
//! `factor × factor` square of itself (PyTorch's `F.interpolate(mode="nearest")`).

use super::conv2d::image_dims;
use super::function::{X, param};
use super::{ArgKind, Attr, Builtin, Default, Layer, Lowering, Onnx, ParamDef, Takes, Torch};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "upsample",
    params: &[
        X,
        ParamDef {
            what: "`factor`",
            help: "`factor` is how many times larger the image becomes each way, e.g. 2",
            ..param("factor", ArgKind::Size, Default::Required)
        },
    ],
    help: "each pixel repeated as a `factor × factor` square (nearest neighbour), `[c, h, w]` to `[c, h·factor, w·factor]`",
    activation: false,
    takes: Takes::Image,
    example: "x |> upsample(2)",
    build: |args| {
        Ok(Box::new(Upsample {
            factor: args.size("factor"),
        }))
    },
}];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upsample {
    pub factor: usize,
}

impl Layer for Upsample {
    fn kind(&self) -> &'static str {
        "upsample"
    }

    fn describe(&self) -> String {
        format!("upsample({})", self.factor)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        let [c, h, w] = image_dims("upsample", inputs[0])?;
        let too_large = || ShapeError::new("`upsample` makes an image too large to allocate", "too large");
        let (h, w) = (
            h.checked_mul(self.factor).ok_or_else(too_large)?,
            w.checked_mul(self.factor).ok_or_else(too_large)?,
        );
        Shape::new(&[c, h, w]).map_err(|_| too_large())
    }

    /// A copy: no arithmetic.
    fn flops(&self, _inputs: &[Shape], _output: Shape) -> u64 {
        0
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.upsample(at.x(), self.factor)
    }

    /// `Resize` by `[1, 1, factor, factor]`, nearest, each output pixel read from
    /// `floor(x / factor)` (`asymmetric` coordinates, `floor` rounding).
    fn onnx(&self, at: &mut dyn Onnx) {
        let f = self.factor as f32;
        let scales = at.constant("scales", &[1.0, 1.0, f, f]);
        at.emit(
            "Resize",
            vec![at.input(0), String::new(), scales],
            vec![
                Attr::Str("mode", "nearest"),
                Attr::Str("coordinate_transformation_mode", "asymmetric"),
                Attr::Str("nearest_mode", "floor"),
            ],
        );
    }

    fn torch(&self, at: &mut dyn Torch) {
        at.python(format!(
            "F.interpolate({}, scale_factor={}, mode=\"nearest\")",
            at.input(0),
            self.factor
        ));
    }
}

impl Tape {
    /// `x: [batch, c, h, w]` made `factor` times larger each way, nearest neighbour.
    pub fn upsample(&mut self, x: Var, factor: usize) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        if sx.rank() != 4 || factor == 0 {
            return Err(TapeError::Invalid {
                op: "upsample",
                why: format!("needs an image batch and a factor of at least 1, got {sx} and {factor}"),
            });
        }
        let out = Shape::new(&[sx.dim(0), sx.dim(1), sx.dim(2) * factor, sx.dim(3) * factor])?;
        Ok(self.push(UpsampleRule { factor }, &[x], out))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsampleRule {
    factor: usize,
}

impl UpsampleRule {
    /// Every output pixel with the input pixel it copies: `(out_index, in_index)`, row
    /// after row, so a gradient's sum over a square always adds in the same order.
    fn pairs(&self, shape: Shape) -> impl Iterator<Item = (usize, usize)> {
        let f = self.factor;
        let (planes, h, w) = (shape.dim(0) * shape.dim(1), shape.dim(2), shape.dim(3));
        let (oh, ow) = (h * f, w * f);
        (0..planes).flat_map(move |p| {
            (0..oh).flat_map(move |i| {
                (0..ow).map(move |j| (p * oh * ow + i * ow + j, p * h * w + (i / f) * w + j / f))
            })
        })
    }
}

impl Rule for UpsampleRule {
    fn name(&self) -> &'static str {
        "upsample"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        let x = cx.input(0);
        for (o, i) in self.pairs(cx.input_shape(0)) {
            out[o] = x[i];
        }
    }

    /// `∂L/∂x` of a pixel is the sum of `∂L/∂y` over its square.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let shape = cx.input_shape(0);
        if let Some(grad_x) = grads.get_mut(cx.inputs[0]) {
            for (o, i) in self.pairs(shape) {
                grad_x[i] += grad_out[o];
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

    #[test]
    fn each_pixel_becomes_a_square_of_itself() {
        let mut params = Params::new();
        let x = params
            .add("x", Shape::new(&[1, 1, 2, 2]).unwrap(), vec![1.0, 2.0, 3.0, 4.0])
            .unwrap();
        let mut tape = Tape::new();
        let x = tape.param(&params, x);
        let y = tape.upsample(x, 2).unwrap();
        tape.forward(&params);
        assert_eq!(
            tape.value(y),
            [1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn gradients_match_central_differences(factor in 1usize..4, values in vec(-2.0f32..2.0, 2 * 2 * 3 * 2)) {
            let shape = Shape::new(&[2, 2, 3, 2]).unwrap();
            let mut params = Params::new();
            let x = params.add("x", shape, values).unwrap();
            let mut tape = Tape::new();
            let x = tape.param(&params, x);
            let y = tape.upsample(x, factor).unwrap();
            let out = tape.shape(y);
            let r = tape.input(out);
            let weighted = tape.mul(y, r).unwrap();
            let loss = tape.sum(weighted);
            let weights: Vec<f32> = (0..out.numel()).map(|i| ((i * 5 % 13) as f32 - 6.0) / 6.0).collect();
            tape.value_mut(r).unwrap().copy_from_slice(&weights);
            let report = check_tape(&mut tape, &mut params, loss, 64);
            prop_assert!(report.ok(), "{report:?}");
        }
    }
}
