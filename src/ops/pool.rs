//! `maxpool(x, size, stride, pad)` and `avgpool(...)`: pooling of image batches `[batch,
//! c, h, w]` over `size × size` windows `stride` apart, after `pad` cells on every side
//! (as PyTorch pads: `-∞` for the maximum, zeros counted in the average, at most half a
//! window). Padding is its own tape step before the kernels, which see whole windows.

use super::conv2d::image_dims;
use super::function::{X, param};
use super::function::ParamDef;
use super::conv2d::Padding;
use super::{ArgKind, Args, Attr, Builtin, Default, Layer, Lowering, Onnx, Refusal, Takes};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};
pub use crate::kernels::pooling::PoolShape;
use crate::kernels::pooling::{avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward};

pub const FUNCTIONS: &[Builtin] = &[
    Builtin {
        name: "maxpool",
        params: &[
            X,
            param("size", ArgKind::Size, Default::Required),
            param("stride", ArgKind::Size, Default::Auto),
            PAD,
        ],
        help: "the maximum of each `size × size` window, `stride` apart (default `size`); the gradient goes to the first maximum",
        activation: false,
        takes: Takes::Image,
        example: "x |> maxpool(2)",
        build: |args| Pool::build(Pooling::Max, args),
    },
    Builtin {
        name: "avgpool",
        params: &[
            X,
            param("size", ArgKind::Size, Default::Required),
            param("stride", ArgKind::Size, Default::Auto),
            PAD,
        ],
        help: "the mean of each `size × size` window, `stride` apart (default `size`)",
        activation: false,
        takes: Takes::Image,
        example: "x |> avgpool(2, stride = 1)",
        build: |args| Pool::build(Pooling::Average, args),
    },
];

const PAD: ParamDef = ParamDef {
    help: "`pad` is the cells added on every side (at most half the window): `-∞` for `maxpool`, zeros counted in the mean for `avgpool`",
    ..param("pad", ArgKind::Pad, Default::Number(0.0, "0"))
};

/// The layer: `[c, h, w] → [c, h', w']`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pool {
    pub kind: Pooling,
    pub size: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Pool {
    /// `stride` defaults to `size`: windows side by side.
    fn build(kind: Pooling, args: &Args<'_>) -> Result<Box<dyn Layer>, Refusal> {
        let size = args.size("size");
        let stride = args.size_if_given("stride").unwrap_or(size);
        let pad = match args.pad("pad") {
            Padding::Each(pad) if pad <= size / 2 => pad,
            Padding::Each(pad) => {
                return Err(Refusal {
                    message: format!(
                        "`{}` pads at most half its window: `pad = {pad}` is more than {size} / 2",
                        kind.name()
                    ),
                    label: "too much padding".into(),
                    help: Some(format!("use `pad` ≤ {}, as PyTorch requires", size / 2)),
                    at_function: false,
                });
            }
            _ => {
                return Err(Refusal {
                    message: format!("`{}` takes a number of cells as `pad`", kind.name()),
                    label: "not a number of cells".into(),
                    help: Some("e.g. `maxpool(3, stride = 2, pad = 1)`".into()),
                    at_function: false,
                });
            }
        };
        Ok(Box::new(Pool {
            kind,
            size,
            stride,
            pad,
        }))
    }

    /// What the padding cells hold: nothing that wins a maximum; zeros in an average.
    fn fill(&self) -> f32 {
        match self.kind {
            Pooling::Max => f32::NEG_INFINITY,
            Pooling::Average => 0.0,
        }
    }
}

impl Layer for Pool {
    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    fn describe(&self) -> String {
        let kind = self.kind.name();
        let pad = match self.pad {
            0 => String::new(),
            pad => format!(", pad = {pad}"),
        };
        match (self.size, self.stride) {
            (size, stride) if size == stride => format!("{kind}({size}{pad})"),
            (size, stride) => format!("{kind}({size}, stride = {stride}{pad})"),
        }
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        pool_shape(self.kind, padded(inputs[0], self.pad)?, self.size, self.stride)
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        output.numel() as u64 * (self.size * self.size) as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let mut x = at.x();
        if self.pad > 0 {
            x = at.tape.pad_image(x, self.pad, self.fill())?;
        }
        at.tape.pool(self.kind, x, self.size, self.stride)
    }

    /// Whole windows of the padded image: ONNX's default floor rounding, `pads` on every
    /// side, the padding counted in an average (`count_include_pad`).
    fn onnx(&self, at: &mut dyn Onnx) {
        let op_type = match self.kind {
            Pooling::Max => "MaxPool",
            Pooling::Average => "AveragePool",
        };
        let mut attributes = vec![
            Attr::Ints("kernel_shape", vec![self.size as i64; 2]),
            Attr::Ints("strides", vec![self.stride as i64; 2]),
        ];
        if self.pad > 0 {
            attributes.push(Attr::Ints("pads", vec![self.pad as i64; 4]));
            if self.kind == Pooling::Average {
                attributes.push(Attr::Int("count_include_pad", 1));
            }
        }
        at.emit(op_type, vec![at.input(0)], attributes);
    }
}

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

/// A per-sample image with `pad` more cells on every side.
fn padded(x: Shape, pad: usize) -> Result<Shape, ShapeError> {
    if pad == 0 || x.rank() != 3 {
        return Ok(x);
    }
    Shape::new(&[x.dim(0), x.dim(1) + 2 * pad, x.dim(2) + 2 * pad])
        .map_err(|e| ShapeError::new(e.to_string(), "too large to allocate"))
}

impl Tape {
    /// `x: [batch, c, h, w]` with `pad` cells of `fill` added on every side.
    pub fn pad_image(&mut self, x: Var, pad: usize, fill: f32) -> Result<Var, TapeError> {
        let sx = self.shape(x);
        if sx.rank() != 4 {
            return Err(TapeError::Invalid {
                op: "pad",
                why: format!("expected an image batch, got {sx}"),
            });
        }
        let out = Shape::new(&[sx.dim(0), sx.dim(1), sx.dim(2) + 2 * pad, sx.dim(3) + 2 * pad])?;
        Ok(self.push(PadRule { pad, fill }, &[x], out))
    }

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
        Ok(self.push(PoolRule { kind, geometry }, &[x], out))
    }
}

/// The tape's pooling of `x: [batch, c, h, w]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRule {
    pub kind: Pooling,
    pub geometry: PoolShape,
}

impl Rule for PoolRule {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Where each maximum was.
    fn index_len(&self, shape: Shape) -> usize {
        match self.kind {
            Pooling::Max => shape.numel(),
            Pooling::Average => 0,
        }
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, _: Run<'_>) {
        let (x, geometry) = (cx.input(0), &self.geometry);
        let batch = cx.input_shape(0).dim(0);
        match self.kind {
            Pooling::Max => maxpool_forward(geometry, batch, x, out, scratch.indices),
            Pooling::Average => avgpool_forward(geometry, batch, x, out),
        }
    }

    /// Max pooling sends each gradient to the first maximum of its window (the position
    /// forward saved); average pooling spreads it evenly over the window.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let geometry = &self.geometry;
        let batch = cx.input_shape(0).dim(0);
        if let Some(grad_x) = grads.get_mut(cx.inputs[0]) {
            match self.kind {
                Pooling::Max => maxpool_backward(geometry, batch, grad_out, scratch.indices, grad_x),
                Pooling::Average => avgpool_backward(geometry, batch, grad_out, grad_x),
            }
        }
    }
}

/// The tape's padding of an image batch: `pad` cells of `fill` on every side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PadRule {
    pub pad: usize,
    pub fill: f32,
}

impl PadRule {
    /// Each input row with where it starts in the input and in the output.
    fn rows(&self, x: Shape) -> impl Iterator<Item = (usize, usize)> {
        let (planes, h, w, p) = (x.dim(0) * x.dim(1), x.dim(2), x.dim(3), self.pad);
        let (oh, ow) = (h + 2 * p, w + 2 * p);
        (0..planes).flat_map(move |plane| {
            (0..h).map(move |i| (plane * h * w + i * w, plane * oh * ow + (i + p) * ow + p))
        })
    }
}

impl Rule for PadRule {
    fn name(&self) -> &'static str {
        "pad"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        let (x, shape) = (cx.input(0), cx.input_shape(0));
        let w = shape.dim(3);
        out.fill(self.fill);
        for (from, to) in self.rows(shape) {
            out[to..to + w].copy_from_slice(&x[from..from + w]);
        }
    }

    /// The padding's gradient goes nowhere; the image's cells get theirs.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let shape = cx.input_shape(0);
        let w = shape.dim(3);
        if let Some(grad_x) = grads.get_mut(cx.inputs[0]) {
            for (from, to) in self.rows(shape) {
                for (g, o) in grad_x[from..from + w].iter_mut().zip(&grad_out[to..to + w]) {
                    *g += o;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
            padded: bool,
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
            let pad = if padded { size / 2 } else { 0 };
            let fill = if max { f32::NEG_INFINITY } else { 0.0 };
            let x = (Shape::new(&[batch, c, h, w]).unwrap(), values);
            assert_ok(
                check_function(&[x], |t, v| {
                    let x = if pad > 0 { t.pad_image(v[0], pad, fill)? } else { v[0] };
                    t.pool(kind, x, size, stride)
                })
                .unwrap(),
            )?;
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
    }
}
