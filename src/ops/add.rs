//! `a + b`: the element-wise sum of two layers of one shape (a residual connection).

use super::{Builtin, Layer, Lowering, Onnx};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Add;

/// The shape rule of the element-wise operators (`symbol` is `+`, `-` or `*`): two
/// layers of one shape keep it.
pub fn same_shape(symbol: &str, a: Shape, b: Shape) -> Result<Shape, ShapeError> {
    if a == b {
        return Ok(a);
    }
    let label = format!("{a} {symbol} {b}");
    Err(if a.is_vector() && b.is_vector() {
        ShapeError::new(
            format!(
                "`{symbol}` needs two layers of the same size, found {} and {}",
                a.numel(),
                b.numel()
            ),
            label,
        )
        .with_help("element-wise operations need equal widths; add a `dense` to match them")
    } else {
        ShapeError::new(
            format!("`{symbol}` needs two layers of the same shape, found {a} and {b}"),
            label,
        )
        .with_help("element-wise operations need equal shapes")
    })
}

impl Layer for Add {
    fn kind(&self) -> &'static str {
        "add"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        same_shape("+", inputs[0], inputs[1])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.add(at.inputs[0], at.inputs[1])
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Add", vec![at.input(0), at.input(1)], vec![]);
    }
}

impl Tape {
    /// The shape of an element-wise operation on `a` and `b`, or why they do not fit.
    pub(super) fn same_shape(&self, op: &'static str, a: Var, b: Var) -> Result<Shape, TapeError> {
        let (sa, sb) = (self.shape(a), self.shape(b));
        same_shape(op, sa, sb).map_err(|_| TapeError::Shape {
            op,
            left: sa,
            right: sb,
            why: "element-wise operands must have the same shape",
        })
    }

    pub fn add(&mut self, a: Var, b: Var) -> Result<Var, TapeError> {
        let shape = self.same_shape("add", a, b)?;
        Ok(self.push(Add, &[a, b], shape))
    }
}

impl Rule for Add {
    fn name(&self) -> &'static str {
        "add"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        simd::add(cx.input(0), cx.input(1), out);
    }

    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        for &input in cx.inputs {
            if let Some(grad) = grads.get_mut(input) {
                simd::add_assign(grad_out, grad);
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::{assert_ok, matrix};
    use crate::autodiff::{Shape, Tape, TapeError};

    /// Two matrices of one random shape.
    pub(in crate::ops) fn pair() -> impl Strategy<Value = [(Shape, Vec<f32>); 2]> {
        matrix(-2.0..2.0).prop_flat_map(|(shape, a)| {
            let n = a.len();
            proptest::collection::vec(-2.0f32..2.0, n)
                .prop_map(move |b| [(shape, a.clone()), (shape, b)])
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn add_matches_central_differences(inputs in pair()) {
            assert_ok(check_function(&inputs, |t, v| t.add(v[0], v[1])).unwrap())?;
        }

        #[test]
        fn a_value_added_to_itself_gets_both_gradients(input in matrix(-2.0..2.0)) {
            assert_ok(check_function(&[input], |t, v| t.add(v[0], v[0])).unwrap())?;
        }
    }

    #[test]
    fn mismatched_shapes_name_both() {
        let mut tape = Tape::new();
        let a = tape.input(Shape::matrix(2, 3).unwrap());
        let b = tape.input(Shape::matrix(3, 2).unwrap());
        let err = tape.add(a, b).unwrap_err();
        assert!(matches!(err, TapeError::Shape { .. }));
        let message = err.to_string();
        assert!(
            message.contains("[2, 3]") && message.contains("[3, 2]") && message.contains("add"),
            "{message}"
        );
    }
}
