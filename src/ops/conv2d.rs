//! `conv2d(x, filters, kernel, stride, pad, groups, dilation)`: a 2-D convolution of an
//! image batch `[batch, c, h, w]` by weights `[filters, c / groups, k, k]` (PyTorch's
//! layouts), plus a bias per filter; computed by the kernels as im2col and matrix
//! products, or tap by tap when depthwise (`groups = c`).

use super::function::{X, param};
use super::tensors::Tensors;
use super::{
    ArgKind, Attr, Builtin, Declare, Default, Fill, InitChoice, Layer, Lowering, Onnx,
    ParamDef, ParamSpec, Takes, WeightAndBias,
};
use crate::autodiff::{
    Grads, Operand, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var,
    describe_shape,
};
pub use crate::kernels::conv::{Conv2dShape, Padding};
use crate::kernels::conv::{
    WeightGradScratch, conv2d_bias_grad, conv2d_forward, conv2d_input_grad, conv2d_weight_grad,
};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "conv2d",
    params: &[
        X,
        param("filters", ArgKind::Size, Default::Required),
        param("kernel", ArgKind::Size, Default::Required),
        param("stride", ArgKind::Size, Default::Number(1.0, "1")),
        ParamDef {
            help: "`pad` is the zeros added on every side, or `same` for an output of `ceil(size / stride)` pixels",
            ..param("pad", ArgKind::Pad, Default::Number(0.0, "0"))
        },
        param("bias", ArgKind::Bool, Default::Bool(true)),
        param("init", ArgKind::Init, Default::Auto),
        ParamDef {
            help: "`groups` cuts channels and filters into that many groups, each filter reading its group's channels (`groups = c`: depthwise)",
            ..param("groups", ArgKind::Size, Default::Number(1.0, "1"))
        },
        ParamDef {
            help: "`dilation` is the distance between the kernel's taps; the window spans `dilation·(kernel − 1) + 1` pixels",
            ..param("dilation", ArgKind::Size, Default::Number(1.0, "1"))
        },
    ],
    help: "a 2-D convolution of `filters` square `kernel`s, `[c, h, w]` to `[filters, h', w']`",
    activation: false,
    takes: Takes::Image,
    example: "x |> conv2d(3, 3, pad = same)",
    build: |args| {
        Ok(Box::new(Conv2d {
            filters: args.size("filters"),
            kernel: args.size("kernel"),
            window: Window {
                stride: args.size("stride"),
                padding: args.pad("pad"),
                groups: args.size("groups"),
                dilation: args.size("dilation"),
            },
            bias: args.boolean("bias"),
            init: InitChoice::from_call(args.init("init")),
        }))
    },
}];

/// The layer: `[c, h, w] → [filters, h', w']`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    pub filters: usize,
    pub kernel: usize,
    pub window: Window,
    pub bias: bool,
    pub init: InitChoice,
}

/// How a kernel moves over the image: everything of a convolution but its sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub stride: usize,
    pub padding: Padding,
    /// Channels and filters are cut into this many groups (1: an ordinary convolution).
    pub groups: usize,
    /// The distance between taps (1: adjacent pixels).
    pub dilation: usize,
}

impl Window {
    /// One group, adjacent taps: version 2's convolution.
    pub fn new(stride: usize, padding: Padding) -> Self {
        Window {
            stride,
            padding,
            groups: 1,
            dilation: 1,
        }
    }
}

impl Tensors for Conv2d {
    type Named<T> = WeightAndBias<T>;

    /// The weight `[filters, c / groups, k, k]`, then the bias if the layer has one.
    fn declare<T>(
        &self,
        inputs: &[Shape],
        tensors: &mut impl Declare<T>,
    ) -> Result<Self::Named<T>, TapeError> {
        let (channels, kernel) = (inputs[0].dim(0) / self.window.groups, self.kernel);
        let fill = Fill::Draw {
            init: self.init.init,
            fan_in: channels * kernel * kernel,
            fan_out: self.filters * kernel * kernel,
        };
        let weight = Shape::new(&[self.filters, channels, kernel, kernel])?;
        let weight = ParamSpec::weight(weight, fill);
        WeightAndBias::declare(weight, self.bias.then_some(self.filters), tensors)
    }
}

impl Conv2d {
    fn geometry(&self, x: Shape) -> Result<Conv2dShape, ShapeError> {
        conv2d_geometry(x, self.filters, self.kernel, self.window)
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "conv2d"
    }

    fn describe(&self) -> String {
        let Window {
            stride,
            padding,
            groups,
            dilation,
        } = self.window;
        let stride = if stride == 1 {
            String::new()
        } else {
            format!(", stride = {stride}")
        };
        let pad = match padding {
            Padding::Each(0) => String::new(),
            Padding::Each(pad) => format!(", pad = {pad}"),
            Padding::Split { begin, end } => format!(", pad = {begin}..{end}"),
            Padding::Same => ", pad = same".to_owned(),
        };
        let bias = if self.bias { "" } else { ", bias = false" };
        let groups = if groups == 1 {
            String::new()
        } else {
            format!(", groups = {groups}")
        };
        let dilation = if dilation == 1 {
            String::new()
        } else {
            format!(", dilation = {dilation}")
        };
        format!(
            "conv2d({}, {}{stride}{pad}{groups}{dilation}{bias}, init = {})",
            self.filters,
            self.kernel,
            self.init.init.name()
        )
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        conv2d_shape(inputs[0], self.filters, self.kernel, self.window)
    }

    fn tensors(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        self.specs(inputs)
    }

    /// Two per multiply-add, and the bias.
    fn flops(&self, inputs: &[Shape], output: Shape) -> u64 {
        let macs = self.geometry(inputs[0]).map_or(0, |g| g.macs() as u64);
        2 * macs + if self.bias { output.numel() as u64 } else { 0 }
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let x = at.x();
        let t = at.tensors(|shapes, tensors| self.declare(shapes, tensors))?;
        let bias = t.bias.map(|b| b.var);
        at.tape.conv2d(x, t.weight.var, bias, self.window)
    }

    /// The weight `[filters, c / groups, k, k]` is ONNX's layout; padding as nnc resolved it.
    fn onnx(&self, at: &mut dyn Onnx) {
        let geometry = self
            .geometry(at.input_shape(0))
            .expect("validation checked the convolution's geometry");
        let t = self.onnx_tensors(at);
        let mut inputs = vec![at.input(0), at.tensor(t.weight)];
        if let Some(bias) = t.bias {
            inputs.push(at.tensor(bias));
        }
        let k = self.kernel as i64;
        let mut attributes = vec![
            Attr::Ints("kernel_shape", vec![k, k]),
            Attr::Ints("strides", vec![self.window.stride as i64; 2]),
            Attr::Ints("pads", conv_pads(&geometry).to_vec()),
        ];
        if self.window.dilation != 1 {
            attributes.push(Attr::Ints("dilations", vec![self.window.dilation as i64; 2]));
        }
        if self.window.groups != 1 {
            attributes.push(Attr::Int("group", self.window.groups as i64));
        }
        at.emit("Conv", inputs, attributes);
    }

    fn weight_init(&mut self) -> Option<&mut InitChoice> {
        Some(&mut self.init)
    }
}

/// ONNX's `pads` of a convolution, `[top, left, bottom, right]`: nnc's padding before,
/// and after only as much as the last window reads (what `same` resolved to, or fewer
/// than declared when the stride skips the last rows), so ONNX's output size, `(len +
/// pads − k) / stride + 1` rounded down, is nnc's.
fn conv_pads(g: &Conv2dShape) -> [i64; 4] {
    let end = |out: usize, len: usize, begin: usize| {
        ((out - 1) * g.stride + g.span()).saturating_sub(len + begin) as i64
    };
    [
        g.pad_top as i64,
        g.pad_left as i64,
        end(g.out_height, g.height, g.pad_top),
        end(g.out_width, g.width, g.pad_left),
    ]
}

/// The geometry of a convolution of the per-sample image `x`, or the words of a
/// diagnostic: `x` must be an image, `groups` must divide its channels and the filters,
/// and the (dilated) window must fit in the padded image.
pub fn conv2d_geometry(
    x: Shape,
    filters: usize,
    kernel: usize,
    window: Window,
) -> Result<Conv2dShape, ShapeError> {
    let [c, h, w] = image_dims("conv2d", x)?;
    let Window {
        stride,
        padding,
        groups,
        dilation,
    } = window;
    for (what, count) in [("input channels", c), ("filters", filters)] {
        if !count.is_multiple_of(groups) {
            return Err(ShapeError::new(
                format!(
                    "`conv2d` with groups = {groups} needs {what} in whole groups, but there are {count}"
                ),
                format!("{groups} groups do not divide {count} {what}"),
            )
            .with_help(format!(
                "`groups` must divide both the input channels ({c}) and `filters` ({filters})"
            )));
        }
    }
    let geometry = Conv2dShape::grouped([c, h, w], filters, kernel, stride, padding, groups, dilation);
    geometry.ok_or_else(|| {
        let span = dilation.saturating_mul(kernel - 1).saturating_add(1);
        let kernel = if dilation == 1 {
            format!("{kernel}×{kernel} kernel")
        } else {
            format!("{kernel}×{kernel} kernel at dilation {dilation} ({span}×{span} pixels)")
        };
        let padded = match padding {
            Padding::Each(pad) => format!(" padded to {}×{}", h + 2 * pad, w + 2 * pad),
            Padding::Split { begin, end } => {
                format!(" padded to {}×{}", h + begin + end, w + begin + end)
            }
            Padding::Same => String::new(),
        };
        ShapeError::new(
            format!(
                "the {kernel} of `conv2d` is larger than its {h}×{w} input{padded}: the output would have no pixels"
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
    window: Window,
) -> Result<Shape, ShapeError> {
    let g = conv2d_geometry(x, filters, kernel, window)?;
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
    /// `conv2d(x, weight) + bias` for `x: [batch, c, h, w]`, `weight: [filters, c / groups,
    /// k, k]`, `bias: [filters]`, moved over the image as `window` says.
    pub fn conv2d(
        &mut self,
        x: Var,
        weight: Var,
        bias: Option<Var>,
        window: Window,
    ) -> Result<Var, TapeError> {
        let (sx, sw) = (self.shape(x), self.shape(weight));
        if sw.rank() != 4
            || sw.dim(2) != sw.dim(3)
            || sx.rank() != 4
            || sx.dim(1) != sw.dim(1) * window.groups
        {
            return Err(TapeError::Shape {
                op: "conv2d",
                left: sx,
                right: sw,
                why: "expected an image batch [b, c, h, w] and weights [filters, c / groups, k, k]",
            });
        }
        let geometry = conv2d_geometry(sx.per_sample(), sw.dim(0), sw.dim(2), window)
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
        let rule = Conv2dRule {
            geometry,
            bias: bias.is_some(),
        };
        let mut inputs = vec![x, weight];
        inputs.extend(bias);
        Ok(self.push(rule, &inputs, out))
    }
}

/// The tape's convolution: operands `x`, the weight and (when `bias`) the bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2dRule {
    pub geometry: Conv2dShape,
    pub bias: bool,
}

/// Scratch a convolution uses: the patch matrices of one group of samples (forward and
/// the input gradient), and the weight gradient's two (the whole batch's patch matrix
/// and output gradient gathered by filter, or the direct path's padded copies).
fn conv2d_aux_len(geometry: &Conv2dShape, batch: usize) -> usize {
    let (input, grad) = geometry.weight_scratch_len(batch);
    geometry.scratch_len(batch) + input + grad
}

fn split_aux<'a>(aux: &'a mut [f32], geometry: &Conv2dShape, batch: usize) -> [&'a mut [f32]; 3] {
    let (group, rest) = aux.split_at_mut(geometry.scratch_len(batch));
    let (input, grad) = rest.split_at_mut(geometry.weight_scratch_len(batch).0);
    [group, input, grad]
}

impl Rule for Conv2dRule {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    /// The patch matrix, the gathered output gradient, the patches' gradient.
    fn aux_len(&self, shape: Shape, _inputs: &[Operand]) -> usize {
        conv2d_aux_len(&self.geometry, shape.dim(0))
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], scratch: Scratch<'_>, _: Run<'_>) {
        let geometry = &self.geometry;
        let batch = cx.input_shape(0).dim(0);
        let [group, _, _] = split_aux(scratch.aux, geometry, batch);
        let bias = self.bias.then(|| cx.input(2));
        conv2d_forward(geometry, batch, cx.input(0), cx.input(1), bias, group, out);
    }

    /// `∂L/∂W = ∂L/∂Y · colᵀ` (one product over the whole batch), `∂L/∂b = Σ ∂L/∂Y` per
    /// filter, `∂L/∂x = col2im(Wᵀ · ∂L/∂Y)`: the adjoint of the window gather.
    fn backward(
        &self,
        cx: &Values<'_>,
        _out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let geometry = &self.geometry;
        let (x, weight) = (cx.inputs[0], cx.inputs[1]);
        let batch = cx.shape(x).dim(0);
        let [group, input, grad] = split_aux(scratch.aux, geometry, batch);
        if let Some(grad_w) = grads.get_mut(weight) {
            let scratch = WeightGradScratch { input, grad };
            conv2d_weight_grad(geometry, batch, cx.get(x), grad_out, scratch, grad_w);
        }
        if self.bias
            && let Some(grad_b) = grads.get_mut(cx.inputs[2])
        {
            conv2d_bias_grad(geometry, batch, grad_out, grad_b);
        }
        if let Some(grad_x) = grads.get_mut(x) {
            conv2d_input_grad(geometry, batch, cx.get(weight), grad_out, group, grad_x);
        }
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
            (groups, dilation) in (1usize..3, 1usize..3),
            same: bool,
            bias: bool,
            values in vec(-1.0f32..1.0, 2 * 4 * 6 * 6 + 6 * 2 * 3 * 3 + 6),
        ) {
            let padding = if same { Padding::Same } else { Padding::Each(pad) };
            // Grouped: `groups` groups of `c` channels and `f` filters each.
            let (c, f) = (c * groups, f * groups);
            let window = Window { stride, padding, groups, dilation };
            prop_assume!(Conv2dShape::grouped([c, h, w], f, k, stride, padding, groups, dilation).is_some());
            let x_len = batch * c * h * w;
            let w_len = f * (c / groups) * k * k;
            let x = (Shape::new(&[batch, c, h, w]).unwrap(), values[..x_len].to_vec());
            let wt = (Shape::new(&[f, c / groups, k, k]).unwrap(), values[x_len..x_len + w_len].to_vec());
            let b = (Shape::vector(f).unwrap(), values[x_len + w_len..x_len + w_len + f].to_vec());
            let inputs = if bias { vec![x, wt, b] } else { vec![x, wt] };
            assert_ok(check_function(&inputs, |t, v| t.conv2d(v[0], v[1], v.get(2).copied(), window)).unwrap())?;
        }
    }

    #[test]
    fn a_kernel_larger_than_the_image_is_refused_in_words() {
        let plain = |pad| Window::new(1, Padding::Each(pad));
        let err = conv2d_shape(Shape::new(&[1, 4, 4]).unwrap(), 6, 5, plain(0)).unwrap_err();
        assert!(err.message.contains("5×5 kernel"), "{}", err.message);
        let vector = conv2d_shape(Shape::vector(784).unwrap(), 6, 5, plain(0));
        assert!(vector.unwrap_err().message.contains("takes an image"));
        assert_eq!(
            conv2d_shape(Shape::new(&[1, 28, 28]).unwrap(), 6, 5, plain(2)).unwrap(),
            Shape::new(&[6, 28, 28]).unwrap()
        );
        let dilated = Window {
            dilation: 3,
            ..plain(0)
        };
        let err = conv2d_shape(Shape::new(&[1, 6, 6]).unwrap(), 6, 3, dilated).unwrap_err();
        assert!(
            err.message.contains("at dilation 3 (7×7 pixels)"),
            "{}",
            err.message
        );
    }

    #[test]
    fn groups_that_do_not_divide_channels_or_filters_are_refused_in_words() {
        let image = Shape::new(&[6, 8, 8]).unwrap();
        let grouped = |groups| Window {
            groups,
            ..Window::new(1, Padding::Same)
        };
        let err = conv2d_shape(image, 8, 3, grouped(4)).unwrap_err();
        assert!(
            err.message.contains("input channels in whole groups, but there are 6"),
            "{}",
            err.message
        );
        let err = conv2d_shape(image, 8, 3, grouped(3)).unwrap_err();
        assert!(err.message.contains("filters in whole groups, but there are 8"));
        assert_eq!(
            conv2d_shape(image, 12, 3, grouped(6)).unwrap(),
            Shape::new(&[12, 8, 8]).unwrap()
        );
    }

    #[test]
    fn convolution_pads_give_onnx_the_output_size_nnc_computes() {
        let pads = |len: usize, kernel: usize, stride: usize, padding: Padding| {
            let g = Conv2dShape::new([1, len, len], 1, kernel, stride, padding).unwrap();
            let p = conv_pads(&g);
            // ONNX's rule: (len + begin + end - kernel) / stride + 1, rounded down.
            let onnx_out = (len as i64 + p[0] + p[2] - kernel as i64) / stride as i64 + 1;
            assert_eq!(onnx_out, g.out_height as i64);
            p
        };
        assert_eq!(pads(28, 3, 1, Padding::Same), [1, 1, 1, 1]);
        // TensorFlow's `same` at stride 2: the odd pixel of padding goes after.
        assert_eq!(pads(14, 3, 2, Padding::Same), [0, 0, 1, 1]);
        assert_eq!(pads(28, 3, 1, Padding::Each(2)), [2, 2, 2, 2]);
        // The stride never reaches the declared padding after: ONNX need not have it.
        assert_eq!(pads(6, 3, 2, Padding::Each(1)), [1, 1, 0, 0]);
        assert_eq!(pads(7, 2, 2, Padding::Each(0)), [0, 0, 0, 0]);
    }
}
