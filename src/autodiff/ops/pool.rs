//! Pooling of image batches `[batch, c, h, w]`: `maxpool` and `avgpool` over `size × size`
//! windows `stride` apart (no padding), and `global_avgpool`, the mean of each channel.

use super::super::{Shape, ShapeError, Tape, TapeError, Var};
use super::conv::image_dims;
use super::{Grads, Op, Values};
use crate::kernels::pooling::{
    PoolShape, avgpool_backward, avgpool_forward, global_avgpool_backward, global_avgpool_forward,
    maxpool_backward, maxpool_forward,
};

/// Which window pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Max,
    Average,
}

impl Pooling {
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Max => "maxpool",
            Pooling::Average => "avgpool",
        }
    }
}

/// The geometry of pooling the per-sample image `x`, or the words of a diagnostic.
pub fn pool_geometry(
    kind: Pooling,
    x: Shape,
    size: usize,
    stride: usize,
) -> Result<PoolShape, ShapeError> {
    let name = kind.name();
    let [c, h, w] = image_dims(name, x)?;
    PoolShape::new([c, h, w], size, stride).ok_or_else(|| {
        ShapeError::new(
            format!(
                "the {size}×{size} window of `{name}` is larger than its {h}×{w} input: the output would have no pixels"
            ),
            "window too large",
        )
        .with_help("use a smaller `size`, or pool an earlier, larger layer")
    })
}

/// The shape rule of `maxpool` and `avgpool`: `[c, h, w] → [c, h', w']`,
/// `h' = (h − size) / stride + 1`.
pub fn pool_shape(
    kind: Pooling,
    x: Shape,
    size: usize,
    stride: usize,
) -> Result<Shape, ShapeError> {
    let g = pool_geometry(kind, x, size, stride)?;
    Shape::new(&[g.channels, g.out_height, g.out_width])
        .map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
}

/// The shape rule of `global_avgpool`: `[c, h, w] → [c]`.
pub fn global_avgpool_shape(x: Shape) -> Result<Shape, ShapeError> {
    let [c, _, _] = image_dims("global_avgpool", x)?;
    Shape::vector(c).map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
}

impl Tape {
    /// Max or average pooling of `x: [batch, c, h, w]`.
    pub fn pool(
        &mut self,
        kind: Pooling,
        x: Var,
        size: usize,
        stride: usize,
    ) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        let invalid = |why: String| TapeError::Invalid {
            op: kind.name(),
            why,
        };
        if sx.rank() != 4 {
            return Err(invalid(format!("expected an image batch, got {sx}")));
        }
        let geometry =
            pool_geometry(kind, sx.per_sample(), size, stride).map_err(|e| invalid(e.message))?;
        let out = Shape::new(&[
            sx.dim(0),
            geometry.channels,
            geometry.out_height,
            geometry.out_width,
        ])?;
        Ok(self.push(Op::Pool { x, kind, geometry }, out))
    }

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
        Ok(self.push(Op::GlobalAvgPool { x }, out))
    }
}

pub(super) fn pool_forward(
    cx: &Values<'_>,
    (x, kind, geometry): (Var, Pooling, &PoolShape),
    out: &mut [f32],
    indices: &mut [u32],
) {
    let batch = cx.shape(x).dim(0);
    match kind {
        Pooling::Max => maxpool_forward(geometry, batch, cx.get(x), out, indices),
        Pooling::Average => avgpool_forward(geometry, batch, cx.get(x), out),
    }
}

/// Max pooling sends each gradient to the first maximum of its window (the position
/// forward saved); average pooling spreads it evenly over the window.
pub(super) fn pool_backward(
    cx: &Values<'_>,
    (x, kind, geometry): (Var, Pooling, &PoolShape),
    grad_out: &[f32],
    indices: &[u32],
    grads: &mut Grads<'_>,
) {
    let batch = cx.shape(x).dim(0);
    if let Some(grad_x) = grads.get_mut(x) {
        match kind {
            Pooling::Max => maxpool_backward(geometry, batch, grad_out, indices, grad_x),
            Pooling::Average => avgpool_backward(geometry, batch, grad_out, grad_x),
        }
    }
}

fn plane(cx: &Values<'_>, x: Var) -> usize {
    let s = cx.shape(x);
    s.dim(2) * s.dim(3)
}

pub(super) fn global_avgpool_forward_rule(cx: &Values<'_>, x: Var, out: &mut [f32]) {
    global_avgpool_forward(plane(cx, x), cx.get(x), out);
}

/// `∂L/∂x[c, p] = ∂L/∂y[c] / (h·w)` for every pixel `p`.
pub(super) fn global_avgpool_backward_rule(
    cx: &Values<'_>,
    x: Var,
    grad_out: &[f32],
    grads: &mut Grads<'_>,
) {
    let pixels = plane(cx, x);
    if let Some(grad_x) = grads.get_mut(x) {
        global_avgpool_backward(pixels, grad_out, grad_x);
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
        fn pooling_matches_central_differences(
            (batch, c, h, w, size, stride) in (1usize..3, 1usize..3, 2usize..7, 2usize..7, 1usize..4, 1usize..4),
            max: bool,
            // Distinct values, so no window has a tie that a step could flip.
            seed in any::<u64>(),
        ) {
            prop_assume!(size <= h.min(w));
            let n = batch * c * h * w;
            let mut values: Vec<f32> = (0..n).map(|i| i as f32 * 0.37 - n as f32 * 0.18).collect();
            let mut state = seed | 1;
            for i in (1..n).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                values.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let kind = if max { Pooling::Max } else { Pooling::Average };
            let x = (Shape::new(&[batch, c, h, w]).unwrap(), values);
            assert_ok(check_function(&[x], |t, v| t.pool(kind, v[0], size, stride)).unwrap())?;
        }

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
    fn a_window_larger_than_the_image_is_refused_in_words() {
        let err = pool_shape(Pooling::Max, Shape::new(&[16, 1, 1]).unwrap(), 2, 2).unwrap_err();
        assert!(
            err.message.contains("2×2 window of `maxpool`"),
            "{}",
            err.message
        );
        assert_eq!(
            pool_shape(Pooling::Average, Shape::new(&[6, 28, 28]).unwrap(), 2, 2).unwrap(),
            Shape::new(&[6, 14, 14]).unwrap()
        );
        assert_eq!(
            global_avgpool_shape(Shape::new(&[8, 7, 7]).unwrap()).unwrap(),
            Shape::vector(8).unwrap()
        );
    }
}
