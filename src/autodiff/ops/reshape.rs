//! `flatten` (and any reshape that keeps the values in order): the same values under
//! another shape. An image `[c, h, w]` flattens in channel, row, column order, its order
//! in memory and PyTorch's, so weights that read it load into PyTorch unchanged.

use super::super::{Shape, ShapeError, Tape, TapeError, Var};
use super::{Grads, Op};
use crate::kernels::simd;

/// The shape rule of `flatten`: `[c, h, w] → [c·h·w]` (a vector stays as it is).
pub fn flatten_shape(x: Shape) -> Result<Shape, ShapeError> {
    Shape::vector(x.numel()).map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
}

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
        Ok(self.push(Op::Reshape { x }, shape))
    }
}

pub(super) fn reshape_forward(x: &[f32], out: &mut [f32]) {
    out.copy_from_slice(x);
}

/// `∂L/∂x = ∂L/∂y`, element for element.
pub(super) fn reshape_backward(x: Var, grad_out: &[f32], grads: &mut Grads<'_>) {
    if let Some(grad_x) = grads.get_mut(x) {
        simd::add_assign(grad_out, grad_x);
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
            flatten_shape(Shape::new(&[16, 5, 5]).unwrap()).unwrap(),
            Shape::vector(400).unwrap()
        );
    }
}
