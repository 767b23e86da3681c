//! `conv2d`: a 2-D convolution of an image batch `[batch, c, h, w]` by weights
//! `[filters, c, k, k]` (PyTorch's layouts), plus a bias per filter; computed by the
//! kernels as im2col and matrix products.

use super::super::{Shape, ShapeError, Tape, TapeError, Var, describe_shape};
use super::{Grads, Op, Values};
use crate::kernels::conv::{
    Conv2dShape, Padding, WeightGradScratch, conv2d_bias_grad, conv2d_forward, conv2d_input_grad,
    conv2d_weight_grad,
};

/// The geometry of a convolution of the per-sample image `x`, or the words of a
/// diagnostic: `x` must be an image, and the window must fit in the padded image.
pub fn conv2d_geometry(
    x: Shape,
    filters: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
) -> Result<Conv2dShape, ShapeError> {
    let [c, h, w] = image_dims("conv2d", x)?;
    Conv2dShape::new([c, h, w], filters, kernel, stride, padding).ok_or_else(|| {
        let padded = match padding {
            Padding::Each(pad) => format!(" padded to {}×{}", h + 2 * pad, w + 2 * pad),
            Padding::Split { begin, end } => {
                format!(" padded to {}×{}", h + begin + end, w + begin + end)
            }
            Padding::Same => String::new(),
        };
        ShapeError::new(
            format!(
                "the {kernel}×{kernel} kernel of `conv2d` is larger than its {h}×{w} input{padded}: the output would have no pixels"
            ),
            "kernel too large",
        )
        .with_help("use a smaller `kernel`, or pad the input (`pad = same`)")
    })
}

/// The shape rule of `conv2d`: `[c, h, w] → [filters, h', w']` (see [`conv2d_geometry`]).
pub fn conv2d_shape(
    x: Shape,
    filters: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
) -> Result<Shape, ShapeError> {
    let g = conv2d_geometry(x, filters, kernel, stride, padding)?;
    Shape::new(&[filters, g.out_height, g.out_width])
        .map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
}

/// `[c, h, w]` of a per-sample image, or a diagnostic that `op` needs one.
pub(super) fn image_dims(op: &str, x: Shape) -> Result<[usize; 3], ShapeError> {
    if x.rank() != 3 {
        return Err(ShapeError::new(
            format!(
                "`{op}` takes an image [c, h, w], found {}",
                describe_shape(x)
            ),
            "not an image",
        )
        .with_help("declare the input as an image, e.g. `x = input(1, 28, 28)`"));
    }
    Ok([x.dim(0), x.dim(1), x.dim(2)])
}

impl Tape {
    /// `conv2d(x, weight) + bias` for `x: [batch, c, h, w]`, `weight: [filters, c, k, k]`,
    /// `bias: [filters]`, with `stride` and `padding`.
    pub fn conv2d(
        &mut self,
        x: Var,
        weight: Var,
        bias: Option<Var>,
        stride: usize,
        padding: Padding,
    ) -> Result<Var, TapeError> {
        let (sx, sw) = (self.shape(x), self.shape(weight));
        if sw.rank() != 4 || sw.dim(2) != sw.dim(3) || sx.rank() != 4 || sx.dim(1) != sw.dim(1) {
            return Err(TapeError::Shape {
                op: "conv2d",
                left: sx,
                right: sw,
                why: "expected an image batch [b, c, h, w] and weights [filters, c, k, k]",
            });
        }
        let geometry = conv2d_geometry(sx.per_sample(), sw.dim(0), sw.dim(2), stride, padding)
            .map_err(|e| TapeError::Invalid {
                op: "conv2d",
                why: e.message,
            })?;
        if let Some(b) = bias
            && self.shape(b) != Shape::vector(geometry.filters)?
        {
            return Err(TapeError::Shape {
                op: "conv2d",
                left: sw,
                right: self.shape(b),
                why: "the bias must have one value per filter",
            });
        }
        let out = Shape::new(&[
            sx.dim(0),
            geometry.filters,
            geometry.out_height,
            geometry.out_width,
        ])?;
        Ok(self.push(
            Op::Conv2d {
                x,
                weight,
                bias,
                geometry,
            },
            out,
        ))
    }
}

/// Scratch a convolution uses: the patch matrices of one group of samples (forward and
/// the input gradient), and the weight gradient's two (the whole batch's patch matrix
/// and output gradient gathered by filter, or the direct path's padded copies).
pub(super) fn conv2d_aux_len(geometry: &Conv2dShape, batch: usize) -> usize {
    let (input, grad) = geometry.weight_scratch_len(batch);
    geometry.scratch_len(batch) + input + grad
}

fn split_aux<'a>(aux: &'a mut [f32], geometry: &Conv2dShape, batch: usize) -> [&'a mut [f32]; 3] {
    let (group, rest) = aux.split_at_mut(geometry.scratch_len(batch));
    let (input, grad) = rest.split_at_mut(geometry.weight_scratch_len(batch).0);
    [group, input, grad]
}

pub(super) fn conv2d_forward_rule(
    cx: &Values<'_>,
    (x, weight, bias): (Var, Var, Option<Var>),
    geometry: &Conv2dShape,
    out: &mut [f32],
    aux: &mut [f32],
) {
    let batch = cx.shape(x).dim(0);
    let [group, _, _] = split_aux(aux, geometry, batch);
    let bias = bias.map(|b| cx.get(b));
    conv2d_forward(geometry, batch, cx.get(x), cx.get(weight), bias, group, out);
}

/// `∂L/∂W = ∂L/∂Y · colᵀ` (one product over the whole batch), `∂L/∂b = Σ ∂L/∂Y` per
/// filter, `∂L/∂x = col2im(Wᵀ · ∂L/∂Y)`: the adjoint of the window gather.
pub(super) fn conv2d_backward(
    cx: &Values<'_>,
    (x, weight, bias): (Var, Var, Option<Var>),
    geometry: &Conv2dShape,
    grad_out: &[f32],
    aux: &mut [f32],
    grads: &mut Grads<'_>,
) {
    let batch = cx.shape(x).dim(0);
    let [group, input, grad] = split_aux(aux, geometry, batch);
    if let Some(grad_w) = grads.get_mut(weight) {
        let scratch = WeightGradScratch { input, grad };
        conv2d_weight_grad(geometry, batch, cx.get(x), grad_out, scratch, grad_w);
    }
    if let Some(b) = bias
        && let Some(grad_b) = grads.get_mut(b)
    {
        conv2d_bias_grad(geometry, batch, grad_out, grad_b);
    }
    if let Some(grad_x) = grads.get_mut(x) {
        conv2d_input_grad(geometry, batch, cx.get(weight), grad_out, group, grad_x);
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
        fn conv2d_matches_central_differences(
            (batch, c, h, w, f, k, stride, pad) in (1usize..3, 1usize..3, 3usize..7, 3usize..7, 1usize..4, 1usize..4, 1usize..3, 0usize..2),
            same: bool,
            bias: bool,
            values in vec(-1.0f32..1.0, 2 * 2 * 6 * 6 + 3 * 2 * 3 * 3 + 3),
        ) {
            let padding = if same { Padding::Same } else { Padding::Each(pad) };
            prop_assume!(Conv2dShape::new([c, h, w], f, k, stride, padding).is_some());
            let x_len = batch * c * h * w;
            let w_len = f * c * k * k;
            let x = (Shape::new(&[batch, c, h, w]).unwrap(), values[..x_len].to_vec());
            let wt = (Shape::new(&[f, c, k, k]).unwrap(), values[x_len..x_len + w_len].to_vec());
            let b = (Shape::vector(f).unwrap(), values[x_len + w_len..x_len + w_len + f].to_vec());
            let inputs = if bias { vec![x, wt, b] } else { vec![x, wt] };
            assert_ok(check_function(&inputs, |t, v| t.conv2d(v[0], v[1], v.get(2).copied(), stride, padding)).unwrap())?;
        }
    }

    #[test]
    fn a_kernel_larger_than_the_image_is_refused_in_words() {
        let err =
            conv2d_shape(Shape::new(&[1, 4, 4]).unwrap(), 6, 5, 1, Padding::Each(0)).unwrap_err();
        assert!(err.message.contains("5×5 kernel"), "{}", err.message);
        let vector = conv2d_shape(Shape::vector(784).unwrap(), 6, 5, 1, Padding::Each(0));
        assert!(vector.unwrap_err().message.contains("takes an image"));
        assert_eq!(
            conv2d_shape(Shape::new(&[1, 28, 28]).unwrap(), 6, 5, 1, Padding::Each(2)).unwrap(),
            Shape::new(&[6, 28, 28]).unwrap()
        );
    }
}
