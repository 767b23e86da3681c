//! The graph's operations: what each one is called, how it is shown, its shape rule (the
//! autodiff layer's, per sample), the parameters it owns and what it costs.
//!
//! Every match here is exhaustive: a new [`Op`] variant makes the compiler list each
//! place that must learn it. The functions of the language that create these ops are one
//! table, `builtins.rs`; lowering onto the tape is `lower.rs`.

use crate::autodiff::ops::{
    Padding, Pooling, batchnorm_channels, batchnorm_shape, concat_shape, conv2d_geometry,
    conv2d_shape, dense_shape, flatten_shape, global_avgpool_shape, pool_shape, same_shape,
    softmax_shape,
};
use crate::autodiff::{Shape, ShapeError, TapeError};

/// The closed set of graph operations.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `input(n)`: the per-sample input; its shape is the node's.
    Input,
    /// `dense(x, units)`: `y = x·Wᵀ + b` with `W: [units, n_in]`.
    Dense {
        units: usize,
        bias: bool,
        init: Init,
    },
    Activation(Activation),
    /// `dropout(x, p)`, `0 ≤ p < 1`: zeroes each element with probability `p` in training
    /// and scales the rest by `1/(1-p)`; identity at inference.
    Dropout {
        p: f32,
    },
    /// `concat(a, b, ...)`: vectors end to end, images along their channels.
    Concat,
    /// Element-wise `a + b`, `a - b`, `a * b` of two nodes of the same shape.
    Add,
    Sub,
    Mul,
    /// `a * c` or `c * a` with a number `c`.
    Scale(f32),
    /// `a + c` (and `a - c` as `a + (-c)`) with a number `c`.
    AddScalar(f32),
    /// `conv2d(x, filters, kernel, stride, pad)`: `[c, h, w] → [filters, h', w']`, weights
    /// `[filters, c, kernel, kernel]`.
    Conv2d {
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
        bias: bool,
        init: Init,
    },
    /// `maxpool(x, size, stride)` or `avgpool(...)`: `[c, h, w] → [c, h', w']`.
    Pool {
        kind: Pooling,
        size: usize,
        stride: usize,
    },
    /// `global_avgpool(x)`: the mean of each channel, `[c, h, w] → [c]`.
    GlobalAvgPool,
    /// `flatten(x)`: `[c, h, w] → [c·h·w]` in channel, row, column order.
    Flatten,
    /// `batchnorm(x, momentum, eps)`: per channel of an image, per feature of a vector.
    BatchNorm {
        momentum: f32,
        eps: f32,
    },
    /// `(x − mean) / std` per value, with the training rows' statistics (buffers `mean`
    /// and `std`, shaped like `x`). Not written in a model: the builder puts it after the
    /// input when the `train` block reads a table with `normalize = true`.
    Standardize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu { slope: f32 },
    Softmax,
    LogSoftmax,
    Identity,
}

/// How a layer's weights are drawn, by the layer's fan-in and fan-out (a dense layer's
/// `n_in` and `units`). Biases start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Glorot/Xavier uniform: `U(±sqrt(6 / (fan_in + fan_out)))`.
    Xavier,
    /// He normal: `N(0, 2 / fan_in)`.
    He,
    /// `U(±1/sqrt(fan_in))`, as PyTorch's `nn.Linear`.
    Uniform,
    /// `N(0, 1/fan_in)`.
    Normal,
}

impl Init {
    /// Every initialiser, by the name the language gives it.
    pub const NAMES: [(&'static str, Init); 4] = [
        ("xavier", Init::Xavier),
        ("he", Init::He),
        ("uniform", Init::Uniform),
        ("normal", Init::Normal),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Init::Xavier => "xavier",
            Init::He => "he",
            Init::Uniform => "uniform",
            Init::Normal => "normal",
        }
    }
}

/// One tensor a node owns, declared by its op; the lowering allocates and draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The tensor's name after the node's prefix: `weight`, `bias`, `running_mean`.
    pub suffix: &'static str,
    /// The shape it is saved with (PyTorch's layout).
    pub shape: Shape,
    pub fill: Fill,
    pub role: Role,
    /// Kept in memory as the transpose of `shape` (a matrix), for the kernels' sake.
    pub stored_transposed: bool,
    /// A count (a whole number of batches), saved as a 64-bit integer as PyTorch does.
    pub count: bool,
    /// A weight that `weight_decay` penalises (not a bias or a batch-norm parameter).
    pub decays: bool,
}

/// A tensor's initial values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// Drawn from the seeded generator by `init`, scaled by the layer's fan-in and fan-out.
    Draw {
        init: Init,
        fan_in: usize,
        fan_out: usize,
    },
    Zeros,
    Ones,
}

/// Whether the optimizer trains a tensor or the op maintains it (a running statistic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Trained, counted as a parameter, gradient-checked.
    Trainable,
    /// Saved and loaded with the weights; never optimised, counted or gradient-checked.
    Buffer,
}

impl ParamSpec {
    fn trainable(suffix: &'static str, shape: Shape, fill: Fill) -> Self {
        ParamSpec {
            suffix,
            shape,
            fill,
            role: Role::Trainable,
            stored_transposed: false,
            count: false,
            decays: false,
        }
    }

    /// A layer's weight: trained, and penalised by `weight_decay`.
    fn weight(shape: Shape, fill: Fill) -> Self {
        ParamSpec {
            decays: true,
            ..ParamSpec::trainable("weight", shape, fill)
        }
    }

    fn buffer(suffix: &'static str, shape: Shape, fill: Fill) -> Self {
        ParamSpec {
            role: Role::Buffer,
            ..ParamSpec::trainable(suffix, shape, fill)
        }
    }
}

/// Dense layers with at least this many units keep their weights transposed in memory,
/// `[n_in, units]`: at batch 1 the product and the update then read one contiguous row
/// per nonzero input. Narrow ones (an output of 10 classes) keep the saved layout, where a
/// product is `units` dot products of length `n_in`.
const TRANSPOSE_FROM_UNITS: usize = 32;

impl Op {
    /// The short name of an op, as used in derived node names and by `nnc show`: a
    /// built-in's own name, or `add`, `sub`, `mul`, `scale`, `add_scalar` for arithmetic.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Dense { .. } => "dense",
            Op::Activation(activation) => activation.name(),
            Op::Dropout { .. } => "dropout",
            Op::Concat => "concat",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Scale(_) => "scale",
            Op::AddScalar(_) => "add_scalar",
            Op::Conv2d { .. } => "conv2d",
            Op::Pool { kind, .. } => kind.name(),
            Op::GlobalAvgPool => "global_avgpool",
            Op::Flatten => "flatten",
            Op::BatchNorm { .. } => "batchnorm",
            Op::Standardize => "standardize",
        }
    }

    /// The op with its arguments: `dense(256, init = xavier)`, `dropout(0.5)`, `scale(-1)`.
    pub fn describe(&self) -> String {
        let kind = self.kind();
        match self {
            Op::Dense { units, bias, init } => {
                let bias = if *bias { "" } else { ", bias = false" };
                format!("dense({units}{bias}, init = {})", init.name())
            }
            Op::Activation(Activation::LeakyRelu { slope }) => format!("{kind}({slope})"),
            Op::Dropout { p } => format!("{kind}({p})"),
            Op::Scale(c) | Op::AddScalar(c) => format!("{kind}({c})"),
            Op::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                bias,
                init,
            } => {
                let stride = if *stride == 1 {
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
                let bias = if *bias { "" } else { ", bias = false" };
                format!(
                    "conv2d({filters}, {kernel}{stride}{pad}{bias}, init = {})",
                    init.name()
                )
            }
            Op::Pool { size, stride, .. } if size == stride => format!("{kind}({size})"),
            Op::Pool { size, stride, .. } => format!("{kind}({size}, stride = {stride})"),
            Op::BatchNorm { momentum, eps } => {
                format!("{kind}(momentum = {momentum}, eps = {eps})")
            }
            Op::Input
            | Op::Activation(_)
            | Op::Concat
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::GlobalAvgPool
            | Op::Flatten => kind.to_owned(),
            Op::Standardize => format!("{kind}(training mean, std)"),
        }
    }

    /// The shape of the node's output from its inputs' (per sample): each op's rule, from
    /// the autodiff layer, which the tape applies too. `Input`'s shape is its own.
    pub fn infer_shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        let x = || *inputs.first().expect("the builder passes every operand");
        match self {
            Op::Input => unreachable!("`input` has no operands; its shape is declared"),
            Op::Dense { units, .. } => dense_shape(x(), *units),
            Op::Activation(a @ (Activation::Softmax | Activation::LogSoftmax)) => {
                softmax_shape(a.name(), x())
            }
            Op::Activation(_)
            | Op::Dropout { .. }
            | Op::Scale(_)
            | Op::AddScalar(_)
            | Op::Standardize => Ok(x()),
            Op::Concat => concat_shape(inputs),
            Op::Add => same_shape("+", inputs[0], inputs[1]),
            Op::Sub => same_shape("-", inputs[0], inputs[1]),
            Op::Mul => same_shape("*", inputs[0], inputs[1]),
            Op::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                ..
            } => conv2d_shape(x(), *filters, *kernel, *stride, *padding),
            Op::Pool { kind, size, stride } => pool_shape(*kind, x(), *size, *stride),
            Op::GlobalAvgPool => global_avgpool_shape(x()),
            Op::Flatten => flatten_shape(x()),
            Op::BatchNorm { .. } => batchnorm_shape(x()),
        }
    }

    /// The tensors this node owns, given its inputs' shapes (per sample), in the order
    /// they are drawn and saved. `Err` when one is too large to allocate.
    pub fn params(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        match *self {
            Op::Dense { units, bias, init } => {
                let n_in = inputs[0].numel();
                let fill = Fill::Draw {
                    init,
                    fan_in: n_in,
                    fan_out: units,
                };
                let mut weight = ParamSpec::weight(Shape::matrix(units, n_in)?, fill);
                weight.stored_transposed = units >= TRANSPOSE_FROM_UNITS;
                let mut specs = vec![weight];
                if bias {
                    specs.push(ParamSpec::trainable(
                        "bias",
                        Shape::vector(units)?,
                        Fill::Zeros,
                    ));
                }
                Ok(specs)
            }
            Op::Conv2d {
                filters,
                kernel,
                bias,
                init,
                ..
            } => {
                let channels = inputs[0].dim(0);
                let fill = Fill::Draw {
                    init,
                    fan_in: channels * kernel * kernel,
                    fan_out: filters * kernel * kernel,
                };
                let weight = Shape::new(&[filters, channels, kernel, kernel])?;
                let mut specs = vec![ParamSpec::weight(weight, fill)];
                if bias {
                    specs.push(ParamSpec::trainable(
                        "bias",
                        Shape::vector(filters)?,
                        Fill::Zeros,
                    ));
                }
                Ok(specs)
            }
            Op::BatchNorm { .. } => {
                // PyTorch's names and order: scale, shift, running mean and variance, and
                // the count of batches seen.
                let c = Shape::vector(batchnorm_channels(inputs[0]))?;
                Ok(vec![
                    ParamSpec::trainable("weight", c, Fill::Ones),
                    ParamSpec::trainable("bias", c, Fill::Zeros),
                    ParamSpec::buffer("running_mean", c, Fill::Zeros),
                    ParamSpec::buffer("running_var", c, Fill::Ones),
                    ParamSpec {
                        count: true,
                        ..ParamSpec::buffer("num_batches_tracked", Shape::scalar(), Fill::Zeros)
                    },
                ])
            }
            Op::Standardize => {
                // Identity until the training rows' statistics are written in.
                Ok(vec![
                    ParamSpec::buffer("mean", inputs[0], Fill::Zeros),
                    ParamSpec::buffer("std", inputs[0], Fill::Ones),
                ])
            }
            Op::Input
            | Op::Activation(_)
            | Op::Dropout { .. }
            | Op::Concat
            | Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Scale(_)
            | Op::AddScalar(_)
            | Op::Pool { .. }
            | Op::GlobalAvgPool
            | Op::Flatten => Ok(Vec::new()),
        }
    }

    /// Forward floating-point operations per sample: `2·n_in·units (+ units)` for a dense
    /// layer, one per element for element-wise work, a few per element for the
    /// transcendental activations.
    pub fn flops(&self, inputs: &[Shape], output: Shape) -> u64 {
        let elements = output.numel() as u64;
        match self {
            Op::Input | Op::Concat | Op::Flatten | Op::Activation(Activation::Identity) => 0,
            Op::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                bias,
                ..
            } => {
                let macs = conv2d_geometry(inputs[0], *filters, *kernel, *stride, *padding)
                    .map_or(0, |g| g.macs() as u64);
                2 * macs + if *bias { elements } else { 0 }
            }
            Op::Pool { size, .. } => elements * (size * size) as u64,
            Op::GlobalAvgPool => inputs[0].numel() as u64,
            // subtract, scale, shift; the statistics are two more passes in training
            Op::BatchNorm { .. } => 2 * elements,
            Op::Dense { units, bias, .. } => {
                let (n_in, units) = (inputs[0].numel() as u64, *units as u64);
                2 * n_in * units + if *bias { units } else { 0 }
            }
            Op::Activation(Activation::Sigmoid | Activation::Tanh) => 4 * elements,
            Op::Activation(Activation::Softmax | Activation::LogSoftmax) => 5 * elements,
            Op::Activation(Activation::Relu | Activation::LeakyRelu { .. }) => elements,
            Op::Dropout { .. } => elements,
            Op::Add | Op::Sub | Op::Mul | Op::Scale(_) | Op::AddScalar(_) => elements,
            Op::Standardize => 2 * elements,
        }
    }
}

impl Activation {
    /// The activation's name in the language.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::Identity => "identity",
        }
    }
}
