//! `leaky_relu(slope)`: `x` where positive, `slope·x` elsewhere, differentiated from its
//! input.

use super::elementwise::Elementwise;
use super::function::{X, param};
use super::{ArgKind, Attr, Builtin, Default, Init, Takes};
use crate::autodiff::{Tape, Var};
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

impl Elementwise for LeakyRelu {
    const NAME: &'static str = "leaky_relu";
    const ONNX: &'static str = "LeakyRelu";
    const FLOPS: u64 = 1;

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        simd::leaky_relu(self.slope, x, out);
    }

    /// `dy/dx = 1` for `x > 0`, `slope` otherwise.
    fn backward(&self, x: &[f32], _y: &[f32], grad_y: &[f32], grad_x: &mut [f32]) {
        simd::leaky_relu_backward(self.slope, x, grad_y, grad_x);
    }

    fn describe(&self) -> String {
        format!("leaky_relu({})", self.slope)
    }

    fn kinks(&self) -> Option<&'static [f32]> {
        Some(&[0.0])
    }

    fn onnx_attributes(&self) -> Vec<Attr> {
        vec![Attr::Float("alpha", self.slope)]
    }

    /// As for `relu`: He makes up for the variance the negative side loses.
    fn init_for_inputs(&self) -> Option<Init> {
        Some(Init::He)
    }
}

impl Tape {
    /// `x` for `x > 0`, `slope·x` otherwise.
    pub fn leaky_relu(&mut self, x: Var, slope: f32) -> Var {
        self.elementwise(LeakyRelu { slope }, x)
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
