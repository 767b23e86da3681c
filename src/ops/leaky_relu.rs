//! `leaky_relu(slope)`: `x` where positive, `slope·x` elsewhere, differentiated from its
//! input.

use super::function::{X, param};
use super::{ArgKind, Attr, Builtin, Default, Init, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{Grads, Kinks, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    pub slope: f32,
}

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "leaky_relu",
    params: &[
        X,
        param("slope", ArgKind::Number, Default::Number(0.01, "0.01")),
    ],
    help: "`x` where positive, `slope·x` elsewhere",
    activation: true,
    takes: Takes::Any,
    example: "x |> leaky_relu(slope = 0.1)",
    build: |args| {
        Ok(Box::new(LeakyRelu {
            slope: args.number("slope"),
        }))
    },
}];

impl Layer for LeakyRelu {
    fn kind(&self) -> &'static str {
        "leaky_relu"
    }

    fn describe(&self) -> String {
        format!("leaky_relu({})", self.slope)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.leaky_relu(at.x(), self.slope))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        let alpha = Attr::Float("alpha", self.slope);
        at.emit("LeakyRelu", vec![at.input(0)], vec![alpha]);
    }

    /// As for `relu`: He makes up for the variance the negative side loses.
    fn init_for_inputs(&self) -> Option<Init> {
        Some(Init::He)
    }
}

impl Tape {
    /// `x` for `x > 0`, `slope·x` otherwise.
    pub fn leaky_relu(&mut self, x: Var, slope: f32) -> Var {
        let shape = self.shape(x);
        self.push(LeakyRelu { slope }, &[x], shape)
    }
}

impl Rule for LeakyRelu {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }

    fn kinks(&self) -> Option<Kinks> {
        Some(Kinks { input: 0, at: &[0.0] })
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::leaky_relu(self.slope, cx.input(0), out);
    }

    /// `dy/dx = 1` for `x > 0`, `slope` otherwise.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::leaky_relu_backward(self.slope, cx.input(0), grad_out, grad);
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
        fn leaky_relu_backward_matches_central_differences(cols in 1usize..20, x in away_from_zero(40, 0.05)) {
            let shape = Shape::matrix(2, cols).unwrap();
            let input = (shape, x[..2 * cols].to_vec());
            assert_ok(check_function(&[input], |t, v| Ok(t.leaky_relu(v[0], 0.1))).unwrap())?;
        }
    }
}
