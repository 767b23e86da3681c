//! `dropout2d(x, p)`: channel dropout (PyTorch's `nn.Dropout2d`). In training each
//! channel of each image is zeroed with probability `p` and the kept ones are scaled by
//! `1/(1 − p)`; at evaluation it is the identity.

use super::conv2d::image_dims;
use super::dropout::draw_mask;
use super::function::{X, param};
use super::{ArgKind, Builtin, Default, Layer, Lowering, Onnx, ParamDef, Takes, Torch};
use crate::autodiff::{
    Grads, Operand, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var,
};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "dropout2d",
    params: &[
        X,
        ParamDef {
            what: "dropout probability",
            help: "`p` is the fraction of channels zeroed in training, e.g. 0.2",
            ..param("p", ArgKind::Fraction, Default::Required)
        },
    ],
    help: "zeroes whole channels of an image with probability `p` in training (scaling the rest), identity at evaluation",
    activation: false,
    takes: Takes::Image,
    example: "x |> dropout2d(0.2)",
    build: |args| Ok(Box::new(Dropout2d { p: args.number("p") })),
}];

/// Drop probability `p` per channel, `0 ≤ p < 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout2d {
    pub p: f32,
}

impl Layer for Dropout2d {
    fn kind(&self) -> &'static str {
        "dropout2d"
    }

    fn describe(&self) -> String {
        format!("dropout2d({})", self.p)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        image_dims("dropout2d", inputs[0])?;
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.dropout2d(at.x(), self.p)
    }

    /// Identity at inference.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Identity", vec![at.input(0)], vec![]);
    }

    /// `F.dropout2d`: the same masks' distribution in training, identity at evaluation.
    fn torch(&self, at: &mut dyn Torch) {
        super::dropout::torch_dropout(at, "F.dropout2d", self.p);
    }
}

impl Tape {
    /// Channel dropout of an image batch `x: [batch, c, h, w]` with probability `p`.
    pub fn dropout2d(&mut self, x: Var, p: f32) -> Result<Var, TapeError> {
        let shape = self.shape(x);
        if !(0.0..1.0).contains(&p) || shape.rank() != 4 {
            return Err(TapeError::Invalid {
                op: "dropout2d",
                why: format!("needs p in [0, 1) and an image batch, got p = {p} and {shape}"),
            });
        }
        Ok(self.push(Dropout2d { p }, &[x], shape))
    }
}

/// The values of one channel of one image.
fn plane(shape: Shape) -> usize {
    shape.dim(2) * shape.dim(3)
}

impl Rule for Dropout2d {
    fn name(&self) -> &'static str {
        "dropout2d"
    }

    /// One mask value per channel of each image.
    fn aux_len(&self, shape: Shape, _inputs: &[Operand]) -> usize {
        shape.dim(0) * shape.dim(1)
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, run: Run<'_>) {
        let (x, mask) = (cx.input(0), scratch.aux);
        if !draw_mask(self.p, run, mask) {
            out.copy_from_slice(x);
            return;
        }
        let pixels = plane(cx.shape);
        for ((x, y), &m) in x.chunks(pixels).zip(out.chunks_mut(pixels)).zip(mask.iter()) {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = x * m;
            }
        }
    }

    /// `∂L/∂x = ∂L/∂y · m` for the channel's mask value `m`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let pixels = plane(cx.shape);
        let mask: &[f32] = scratch.aux;
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            for ((g, gy), &m) in grad
                .chunks_mut(pixels)
                .zip(grad_out.chunks(pixels))
                .zip(mask.iter())
            {
                for (g, &gy) in g.iter_mut().zip(gy) {
                    *g += gy * m;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::autodiff::{Params, Shape, Tape};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn dropout2d_matches_central_differences(
            (batch, c, side) in (1usize..3, 1usize..4, 1usize..4),
            p in 0.0f32..0.9,
            values in vec(-2.0f32..2.0, 2 * 3 * 9),
        ) {
            let x = (Shape::new(&[batch, c, side, side]).unwrap(), values[..batch * c * side * side].to_vec());
            assert_ok(check_function(&[x], |t, v| t.dropout2d(v[0], p)).unwrap())?;
        }
    }

    #[test]
    fn dropout2d_drops_whole_channels_in_training_only() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::new(&[4, 50, 3, 3]).unwrap());
        let y = tape.dropout2d(x, 0.5).unwrap();
        tape.value_mut(x).unwrap().fill(1.0);
        let params = Params::new();
        tape.set_training(false);
        tape.forward(&params);
        assert!(tape.value(y).iter().all(|&v| v == 1.0));
        tape.set_training(true);
        tape.forward(&params);
        let planes: Vec<&[f32]> = tape.value(y).chunks(9).collect();
        assert!(planes.iter().all(|p| p.iter().all(|&v| v == p[0])), "a channel was split");
        let dropped = planes.iter().filter(|p| p[0] == 0.0).count();
        assert!((60..140).contains(&dropped), "{dropped} of 200 channels dropped at p = 0.5");
        assert!(planes.iter().all(|p| p[0] == 0.0 || p[0] == 2.0));
    }
}
