//! `flatten` (and any reshape that keeps the values in order): the same values under
//! another shape. An image `[c, h, w]` flattens in channel, row, column order, its order
//! in memory and PyTorch's, so weights that read it load into PyTorch unchanged.

use super::function::X;
use super::{Attr, Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "flatten",
    params: &[X],
    help: "an image as a vector, `[c, h, w]` to `[c·h·w]` in channel, row, column order",
    activation: false,
    takes: Takes::Any,
    example: "x |> flatten",
    build: |_| Ok(Box::new(Flatten)),
}];

/// `[c, h, w] → [c·h·w]` (a vector stays as it is).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flatten;

impl Layer for Flatten {
    fn kind(&self) -> &'static str {
        "flatten"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Shape::vector(inputs[0].numel())
            .map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
    }

    fn flops(&self, _inputs: &[Shape], _output: Shape) -> u64 {
        0
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let shape = at.batched()?;
        at.tape.reshape(at.x(), shape)
    }

    /// Channel, row, column order: row-major `[c, h, w]`, as ONNX flattens.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Flatten", vec![at.input(0)], vec![Attr::Int("axis", 1)]);
    }
}

/// The tape's reshape: the values copied under the node's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reshape;

impl Tape {
    /// `x` viewed as `shape`, which has as many elements.
    pub fn reshape(&mut self, x: Var, shape: Shape) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        if sx.numel() != shape.numel() {
            return Err(TapeError::Shape {
                op: "reshape",
                left: sx,
                right: shape,
                why: "a reshape keeps the number of elements",
            });
        }
        Ok(self.push(Reshape, &[x], shape))
    }
}

impl Rule for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        out.copy_from_slice(cx.input(0));
    }

    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad_x) = grads.get_mut(cx.inputs[0]) {
            simd::add_assign(grad_out, grad_x);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;

    proptest! {
        #[test]
        fn reshape_matches_central_differences(values in vec(-1.0f32..1.0, 24)) {
            let x = (Shape::new(&[2, 3, 2, 2]).unwrap(), values);
            assert_ok(check_function(&[x], |t, v| t.reshape(v[0], Shape::matrix(2, 12)?)).unwrap())?;
        }
    }

    #[test]
    fn flatten_keeps_every_value() {
        assert_eq!(
            Flatten.shape(&[Shape::new(&[16, 5, 5]).unwrap()]).unwrap(),
            Shape::vector(400).unwrap()
        );
    }
}
