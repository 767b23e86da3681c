//! `relu`: `max(x, 0)`, element-wise, differentiated from its input.

use super::function::activation;
use super::{Builtin, Init, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Kinks, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relu;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "relu",
    "`max(x, 0)`, element-wise",
    "x |> relu",
    Takes::Any,
    |_| Ok(Box::new(Relu)),
)];

impl Layer for Relu {
    fn kind(&self) -> &'static str {
        "relu"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.relu(at.x()))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Relu", vec![at.input(0)], vec![]);
    }

    /// He's `N(0, 2/n_in)` makes up for the half of the variance relu drops.
    fn init_for_inputs(&self) -> Option<Init> {
        Some(Init::He)
    }
}

impl Tape {
    /// `max(x, 0)`.
    pub fn relu(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Relu, &[x], shape)
    }
}

impl Rule for Relu {
    fn name(&self) -> &'static str {
        "relu"
    }

    fn kinks(&self) -> Option<Kinks> {
        Some(Kinks { input: 0, at: &[0.0] })
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::relu(cx.input(0), out);
    }

    /// `dy/dx = [x > 0]` (0 at the kink, as PyTorch).
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::relu_backward(cx.input(0), grad_out, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::Shape;
    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, away_from_zero};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn relu_backward_matches_central_differences(cols in 1usize..20, x in away_from_zero(40, 0.05)) {
            let shape = Shape::matrix(2, cols).unwrap();
            let input = (shape, x[..2 * cols].to_vec());
            assert_ok(check_function(&[input], |t, v| Ok(t.relu(v[0]))).unwrap())?;
        }
    }
}
