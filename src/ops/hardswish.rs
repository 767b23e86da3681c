//! `hardswish`: `x · relu6(x + 3) / 6`, element-wise (MobileNetV3's activation; PyTorch's
//! `nn.Hardswish`). Differentiated from its input; kinks at ±3.

use super::function::activation;
use super::{Builtin, Init, Layer, Lowering, Onnx, Takes};
use crate::autodiff::{
    Grads, Kinks, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var,
};
use crate::kernels::simd::{self, Lanes};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardswish;

pub const FUNCTIONS: &[Builtin] = &[activation(
    "hardswish",
    "`x · relu6(x + 3) / 6`, element-wise",
    "x |> hardswish",
    Takes::Any,
    |_| Ok(Box::new(Hardswish)),
)];

impl Layer for Hardswish {
    fn kind(&self) -> &'static str {
        "hardswish"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    /// An add, two clamps, two products.
    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        5 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.hardswish(at.x()))
    }

    /// ONNX's `HardSwish` (opset 14): `x · max(0, min(1, x/6 + 1/2))`.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("HardSwish", vec![at.input(0)], vec![]);
    }

    /// Like relu, it zeroes most negative inputs: He suits the weights before it.
    fn init_for_inputs(&self) -> Option<Init> {
        Some(Init::He)
    }
}

impl Tape {
    /// `x · relu6(x + 3) / 6`.
    pub fn hardswish(&mut self, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(Hardswish, &[x], shape)
    }
}

impl Rule for Hardswish {
    fn name(&self) -> &'static str {
        "hardswish"
    }

    fn kinks(&self) -> Option<Kinks> {
        Some(Kinks {
            input: 0,
            at: &[-3.0, 3.0],
        })
    }

    /// As PyTorch: `x · min(max(x + 3, 0), 6) / 6`.
    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        let (three, six) = (Lanes::splat(3.0), Lanes::splat(6.0));
        simd::map(cx.input(0), out, |x| {
            x * (x + three).max(Lanes::ZERO).min(six) / six
        });
    }

    /// `dy/dx = 0` below −3, `x/3 + 1/2` from −3 to 3, 1 above (PyTorch's choices at the
    /// kinks).
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let Some(grad) = grads.get_mut(cx.inputs[0]) else {
            return;
        };
        let (three, half) = (Lanes::splat(3.0), Lanes::splat(0.5));
        simd::zip2(cx.input(0), grad_out, grad, |x, gy, gx| {
            let slope = x.simd_lt(-three).select(
                Lanes::ZERO,
                x.simd_le(three).select(x / three + half, Lanes::ONE),
            );
            gx + gy * slope
        });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Params, Shape, Tape};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn hardswish_backward_matches_central_differences(input in matrix(-6.0..6.0)) {
            assert_ok(check_function(&[input], |t, v| Ok(t.hardswish(v[0]))).unwrap())?;
        }
    }

    #[test]
    fn hardswish_is_zero_below_minus_three_and_the_identity_above_three() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, 5).unwrap());
        let y = tape.hardswish(x);
        tape.value_mut(x)
            .unwrap()
            .copy_from_slice(&[-4.0, -3.0, 0.0, 1.5, 4.0]);
        tape.forward(&Params::new());
        // 1.5 · 4.5 / 6 = 1.125
        assert_eq!(tape.value(y), [0.0, 0.0, 0.0, 1.125, 4.0]);
    }
}
