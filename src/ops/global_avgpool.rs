//! `global_avgpool(x)`: the mean of each channel of an image, `[c, h, w] → [c]`.

use super::conv2d::image_dims;
use super::function::X;
use super::{Attr, Builtin, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::pooling::{global_avgpool_backward, global_avgpool_forward};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "global_avgpool",
    params: &[X],
    help: "the mean of each channel, `[c, h, w]` to `[c]`",
    activation: false,
    takes: Takes::Image,
    example: "x |> global_avgpool",
    build: |_| Ok(Box::new(GlobalAvgPool)),
}];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalAvgPool;

impl Layer for GlobalAvgPool {
    fn kind(&self) -> &'static str {
        "global_avgpool"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        let [c, _, _] = image_dims("global_avgpool", inputs[0])?;
        Shape::vector(c).map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
    }

    fn flops(&self, inputs: &[Shape], _output: Shape) -> u64 {
        inputs[0].numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.global_avgpool(at.x())
    }

    /// `[batch, c, h, w] → [batch, c, 1, 1]`, then the vector `[batch, c]` nnc gives.
    fn onnx(&self, at: &mut dyn Onnx) {
        let pooled = at.emit_value("pooled", "GlobalAveragePool", vec![at.input(0)], vec![]);
        at.emit("Flatten", vec![pooled], vec![Attr::Int("axis", 1)]);
    }
}

impl Tape {
    /// The mean of each channel of `x: [batch, c, h, w]`: `[batch, c]`.
    pub fn global_avgpool(&mut self, x: Var) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        if sx.rank() != 4 {
            return Err(TapeError::Invalid {
                op: "global_avgpool",
                why: format!("expected an image batch, got {sx}"),
            });
        }
        let out = Shape::matrix(sx.dim(0), sx.dim(1))?;
        Ok(self.push(GlobalAvgPool, &[x], out))
    }
}


/// The pixels of one channel of operand 0.
fn plane(cx: &Values<'_>) -> usize {
    let s = cx.input_shape(0);
    s.dim(2) * s.dim(3)
}

impl Rule for GlobalAvgPool {
    fn name(&self) -> &'static str {
        "global_avgpool"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        global_avgpool_forward(plane(cx), cx.input(0), out);
    }

    /// `∂L/∂x[c, p] = ∂L/∂y[c] / (h·w)` for every pixel `p`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let pixels = plane(cx);
        if let Some(grad_x) = grads.get_mut(cx.inputs[0]) {
            global_avgpool_backward(pixels, grad_out, grad_x);
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
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn global_avgpool_matches_central_differences(
            (batch, c, h, w) in (1usize..3, 1usize..4, 1usize..5, 1usize..5),
            values in vec(-1.0f32..1.0, 3 * 4 * 5 * 5),
        ) {
            let x = (Shape::new(&[batch, c, h, w]).unwrap(), values[..batch * c * h * w].to_vec());
            assert_ok(check_function(&[x], |t, v| t.global_avgpool(v[0])).unwrap())?;
        }
    }

    #[test]
    fn each_channel_becomes_one_value() {
        assert_eq!(
            GlobalAvgPool.shape(&[Shape::new(&[8, 7, 7]).unwrap()]).unwrap(),
            Shape::vector(8).unwrap()
        );
    }
}
