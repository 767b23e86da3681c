//! `concat(a, b, ...)`: layers joined along the axis after the batch. Per sample, vectors
//! are joined end to end and images along their channels: both are the samples' values
//! laid one after the other, so one kernel serves both.

use super::function::param;
use super::limits::MAX_WIDTH;
use super::{ArgKind, Attr, Builtin, Default, Layer, Lowering, Onnx, Refusal, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
use crate::kernels::simd;

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "concat",
    params: &[param("a", ArgKind::Layers, Default::Required)],
    help: "joins two or more layers: vectors end to end, images along their channels",
    activation: false,
    takes: Takes::Any,
    example: "concat(x, x)",
    build: |args| {
        let count = args.layer_count("a");
        if count < 2 {
            return Err(Refusal {
                message: format!("`concat` joins two or more layers, found {count}"),
                label: "too few layers".to_owned(),
                help: Some(format!("`{}`", args.builtin.signature())),
                at_function: true,
            });
        }
        Ok(Box::new(Concat))
    },
}];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concat;

impl Layer for Concat {
    fn kind(&self) -> &'static str {
        "concat"
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        let total = inputs
            .iter()
            .try_fold(0usize, |sum, s| sum.checked_add(s.numel()));
        if total.is_none_or(|t| t > MAX_WIDTH) {
            return Err(ShapeError::new(
                "`concat` would be too large to allocate",
                format!("more than {MAX_WIDTH} values"),
            ));
        }
        concat_shape(inputs)
    }

    fn flops(&self, _inputs: &[Shape], _output: Shape) -> u64 {
        0
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        at.tape.concat(at.inputs)
    }

    /// Vectors end to end, images along their channels: axis 1 either way.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit("Concat", at.inputs(), vec![Attr::Int("axis", 1)]);
    }
}

/// The shape rule of `concat`: vectors `[a] ++ [b] = [a + b]`; images of one height and
/// width `[c₁, h, w] ++ [c₂, h, w] = [c₁ + c₂, h, w]`.
pub fn concat_shape(parts: &[Shape]) -> Result<Shape, ShapeError> {
    let Some(&head) = parts.first() else {
        return Err(ShapeError::new("`concat` needs a layer", "nothing to join"));
    };
    let mut joined = 0usize;
    for &part in parts {
        let fits = match head.rank() {
            1 => part.is_vector(),
            _ => part.rank() == head.rank() && part.dims()[1..] == head.dims()[1..],
        };
        if !fits {
            let shapes: Vec<String> = parts.iter().map(Shape::to_string).collect();
            return Err(ShapeError::new(
                format!(
                    "`concat` joins vectors, or images of one height and width, found {}",
                    shapes.join(", ")
                ),
                "shapes that do not join",
            )
            .with_help("images are joined along their channels; flatten them to join vectors"));
        }
        joined = joined
            .checked_add(part.dims()[0])
            .ok_or_else(|| ShapeError::new("`concat` would be too large", "too large"))?;
    }
    let mut dims = head.dims();
    dims[0] = joined;
    Shape::new(&dims).map_err(|e| ShapeError::new(e.to_string(), "too large"))
}

impl Tape {
    /// Joins `parts` along axis 1: `[rows, colsᵢ]` into `[rows, Σ colsᵢ]`, image batches
    /// `[batch, cᵢ, h, w]` into `[batch, Σ cᵢ, h, w]` (a vector `[nᵢ]` into `[Σ nᵢ]`).
    pub fn concat(&mut self, parts: &[Var]) -> Result<Var, TapeError> {
        let Some(&first) = parts.first() else {
            return Err(TapeError::Invalid {
                op: "concat",
                why: "needs at least one input".into(),
            });
        };
        let head = self.shape(first);
        let axis = usize::from(head.rank() >= 2);
        let mut joined = 0usize;
        for &part in parts {
            let s = self.shape(part);
            let (sd, hd) = (s.dims(), head.dims());
            let fits = s.rank() == head.rank()
                && s.rank() > 0
                && sd[..axis] == hd[..axis]
                && sd[axis + 1..] == hd[axis + 1..];
            if !fits {
                return Err(TapeError::Shape {
                    op: "concat",
                    left: head,
                    right: s,
                    why: "parts must have the same rows (and images the same height and width)",
                });
            }
            joined = joined
                .checked_add(s.dim(axis))
                .ok_or_else(|| TapeError::Invalid {
                    op: "concat",
                    why: "too many columns".into(),
                })?;
        }
        let mut dims = head.dims();
        dims[axis] = joined;
        let shape = Shape::new(&dims)?;
        Ok(self.push(Concat, parts, shape))
    }
}

/// The values of one row (one sample) of a tensor that [`Tape::concat`] joins: everything
/// after the first axis, or the whole of a vector.
fn row_len(shape: Shape) -> usize {
    match shape.rank() {
        0 | 1 => shape.numel(),
        _ => shape.numel() / shape.dim(0).max(1),
    }
}

impl Rule for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }

    /// Copies each part's row into its range of the output row.
    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        let cols = row_len(cx.shape);
        let mut offset = 0;
        for &part in cx.inputs {
            let width = row_len(cx.shape(part));
            if width == 0 {
                continue;
            }
            for (src, dst) in cx
                .get(part)
                .chunks_exact(width)
                .zip(out.chunks_exact_mut(cols))
            {
                dst[offset..offset + width].copy_from_slice(src);
            }
            offset += width;
        }
    }

    /// Each part receives its range of each row of `∂L/∂y`.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let cols = row_len(cx.shape);
        let mut offset = 0;
        for &part in cx.inputs {
            let width = row_len(cx.shape(part));
            if width > 0
                && let Some(grad) = grads.get_mut(part)
            {
                for (dst, src) in grad
                    .chunks_exact_mut(width)
                    .zip(grad_out.chunks_exact(cols))
                {
                    simd::add_assign(&src[offset..offset + width], dst);
                }
            }
            offset += width;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::autodiff::{Shape, Tape};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn concat_matches_central_differences(rows in 1usize..4, a_cols in 1usize..10, b_cols in 1usize..10, values in vec(-2.0f32..2.0, 40)) {
            let a = (Shape::matrix(rows, a_cols).unwrap(), values[..rows * a_cols].to_vec());
            let b = (Shape::matrix(rows, b_cols).unwrap(), values[..rows * b_cols].iter().map(|v| v * 0.5).collect());
            assert_ok(check_function(&[a.clone(), b], |t, v| t.concat(&[v[0], v[1], v[0]])).unwrap())?;
            assert_ok(check_function(&[a], |t, v| t.concat(&[v[0]])).unwrap())?;
        }

        #[test]
        fn image_concat_matches_central_differences(batch in 1usize..3, a_c in 1usize..3, b_c in 1usize..3, side in 1usize..4, values in vec(-2.0f32..2.0, 54)) {
            let image = |c: usize| Shape::new(&[batch, c, side, side]).unwrap();
            let a = (image(a_c), values[..batch * a_c * side * side].to_vec());
            let b = (image(b_c), values[..batch * b_c * side * side].iter().map(|v| v * 0.5).collect());
            assert_ok(check_function(&[a, b], |t, v| t.concat(&[v[0], v[1], v[0]])).unwrap())?;
        }
    }

    #[test]
    fn images_are_joined_along_their_channels() {
        // Two samples; `a` has one 2×2 channel, `b` two. Per sample: a's channel, then b's.
        let mut tape = Tape::new();
        let a = tape.input(Shape::new(&[2, 1, 2, 2]).unwrap());
        let b = tape.input(Shape::new(&[2, 2, 2, 2]).unwrap());
        tape.value_mut(a)
            .unwrap()
            .copy_from_slice(&[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        let b_values: Vec<f32> = (0..16).map(|i| 10.0 + i as f32).collect();
        tape.value_mut(b).unwrap().copy_from_slice(&b_values);
        let y = tape.concat(&[a, b]).unwrap();
        assert_eq!(tape.shape(y), Shape::new(&[2, 3, 2, 2]).unwrap());
        tape.forward(&crate::autodiff::Params::new());
        let mut expected = vec![1.0; 4];
        expected.extend(&b_values[..8]);
        expected.extend([2.0; 4]);
        expected.extend(&b_values[8..]);
        assert_eq!(tape.value(y), expected);
        // Images of another height do not join.
        let c = tape.input(Shape::new(&[2, 1, 3, 2]).unwrap());
        assert!(tape.concat(&[a, c]).is_err());
    }

    #[test]
    fn concat_refuses_different_rows() {
        let mut tape = Tape::new();
        let a = tape.input(Shape::matrix(2, 3).unwrap());
        let b = tape.input(Shape::matrix(4, 3).unwrap());
        let err = tape.concat(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("[2, 3]") && err.contains("[4, 3]"), "{err}");
    }
}
