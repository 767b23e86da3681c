//! `dropout(x, p)`: inverted dropout. In training, zero each element with probability
//! `p` and scale the survivors by `1/(1 − p)`, so inference is the identity.

use rand::Rng;

use super::function::{X, param};
use super::{ArgKind, Builtin, Default, Layer, Lowering, Onnx, Torch, ParamDef, Takes};
use crate::autodiff::{
    Grads, Operand, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var,
};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "dropout",
    params: &[
        X,
        ParamDef {
            what: "dropout probability",
            help: "`p` is the fraction of values zeroed in training, e.g. 0.5",
            ..param("p", ArgKind::Fraction, Default::Required)
        },
    ],
    help: "zeroes a fraction `p` of the values in training (scaling the rest), identity at evaluation",
    activation: false,
    takes: Takes::Any,
    example: "x |> dropout(0.5)",
    build: |args| Ok(Box::new(Dropout { p: args.number("p") })),
}];

/// Drop probability `p`, `0 ≤ p < 1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    pub p: f32,
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "dropout"
    }

    fn describe(&self) -> String {
        format!("dropout({})", self.p)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.dropout(at.x(), self.p)
    }

    /// Identity at inference.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Identity", vec![at.input(0)], vec![]);
    }

    /// `F.dropout`: the same masks' distribution in training, identity at evaluation.
    fn torch(&self, at: &mut dyn Torch) {
        torch_dropout(at, "F.dropout", self.p);
    }
}

/// `function(x, p, training=self.training)`: a dropout's PyTorch, in the module's mode.
pub(super) fn torch_dropout(at: &mut dyn Torch, function: &str, p: f32) {
    at.python(format!(
        "{function}({}, p={}, training=self.training)",
        at.input(0),
        super::torch::float(p)
    ));
}

impl Tape {
    /// Inverted dropout of `x` with drop probability `p` in `[0, 1)`.
    pub fn dropout(&mut self, x: Var, p: f32) -> Result<Var, TapeError> {
        if !(0.0..1.0).contains(&p) {
            return Err(TapeError::Invalid {
                op: "dropout",
                why: format!("p = {p} is outside [0, 1)"),
            });
        }
        let shape = self.shape(x);
        Ok(self.push(Dropout { p }, &[x], shape))
    }
}

/// Inverted dropout's mask, one draw per value in order: `1/(1 − p)` where kept, 0 where
/// dropped. In inference (or at `p = 0`) all ones, and `false`: nothing to apply.
pub(super) fn draw_mask(p: f32, run: Run<'_>, mask: &mut [f32]) -> bool {
    if !run.training || p == 0.0 {
        mask.fill(1.0);
        return false;
    }
    let keep = 1.0 / (1.0 - p);
    for m in mask.iter_mut() {
        *m = if run.rng.random::<f32>() >= p { keep } else { 0.0 };
    }
    true
}

impl Rule for Dropout {
    fn name(&self) -> &'static str {
        "dropout"
    }

    /// The mask: `1/(1 − p)` where kept, 0 where dropped.
    fn aux_len(&self, shape: Shape, _inputs: &[Operand]) -> usize {
        shape.numel()
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, run: Run<'_>) {
        let (x, mask) = (cx.input(0), scratch.aux);
        if draw_mask(self.p, run, mask) {
            simd::mul(x, mask, out);
        } else {
            out.copy_from_slice(x);
        }
    }

    /// `∂L/∂x = ∂L/∂y ∘ m`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            simd::mul_acc(grad_out, scratch.aux, grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Shape, Tape};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn dropout_matches_central_differences(input in matrix(-2.0..2.0), p in 0.0f32..0.9) {
            assert_ok(check_function(&[input], |t, v| t.dropout(v[0], p)).unwrap())?;
        }
    }

    #[test]
    fn dropout_is_identity_at_inference_and_drops_about_p_in_training() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(100, 100).unwrap());
        let y = tape.dropout(x, 0.3).unwrap();
        tape.value_mut(x).unwrap().fill(1.0);
        let params = crate::autodiff::Params::new();
        tape.set_training(false);
        tape.forward(&params);
        assert!(tape.value(y).iter().all(|&v| v == 1.0));
        tape.set_training(true);
        tape.forward(&params);
        let dropped = tape.value(y).iter().filter(|&&v| v == 0.0).count();
        assert!(
            (2500..3500).contains(&dropped),
            "{dropped} of 10000 dropped at p = 0.3"
        );
        let kept = tape.value(y).iter().find(|&&v| v != 0.0).copied();
        assert_eq!(kept, Some(1.0 / 0.7));
    }

    #[test]
    fn p_outside_zero_one_is_refused() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(1, 1).unwrap());
        assert!(tape.dropout(x, 1.0).is_err());
        assert!(tape.dropout(x, -0.1).is_err());
    }
}
