//! The built-in functions of the model body, as one table (in the spirit of ripgrep's
//! `flags/defs.rs`): each row is a function's name, its parameters (kind, default,
//! range, help), a one-line help, whether it is an activation, an example call, and the
//! function that builds its node. Argument binding, the "did you mean" lists, the
//! signatures in error messages and the table the README shows all read it, so nothing
//! can disagree with it; `tests` walks it and runs every row through a small model.
//!
//! Adding a function: its op (`op.rs`, plus a tape op with its shape, forward and
//! backward rules under `autodiff/ops/` when it computes something new) and one row here.

use super::build::Call;
use super::op::{Activation, Op};
use super::{Init, NodeId};
use crate::autodiff::ops::{Padding, Pooling};
use crate::data::Holdout;

/// One built-in function of the language.
pub struct Builtin {
    pub name: &'static str,
    pub params: &'static [ParamDef],
    /// One line, for help text and the README.
    pub help: &'static str,
    /// An activation: element-wise on its layer, with no option that must be given, so
    /// `let act = relu` and `x |> act` read naturally.
    pub activation: bool,
    /// What its layer must be: a vector, an image, either (or none, for `input`).
    pub takes: Takes,
    /// A use of it, the right-hand side of a model line given a layer `x` (for `input`,
    /// the input line itself), for the documentation and the table's own test.
    pub example: &'static str,
    /// Creates the node from arguments already bound and checked against `params`.
    pub build: fn(&mut Call<'_, '_>) -> Result<NodeId, ()>,
}

/// The per-sample shape a built-in's layer must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    Nothing,
    Vector,
    Image,
    Any,
}

/// One parameter of a built-in.
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ArgKind,
    pub default: Default,
    /// How range errors name it: "dropout probability", "the learning rate", "`eps`".
    pub what: &'static str,
    /// One sentence of help, shown with a range error.
    pub help: &'static str,
}

/// What an argument must be; binding checks it and reports a diagnostic otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A layer of the network (evaluated as a model expression).
    Layer,
    /// Two or more layers, as every positional argument (`concat`).
    Layers,
    /// A whole number from 1 to 2^24.
    Size,
    /// Any number representable as an `f32`.
    Number,
    /// A number in [0, 1).
    Fraction,
    /// A number above 0.
    Positive,
    /// A number in (0, 1).
    OpenFraction,
    /// A whole number of pixels from 0, or `same`.
    Pad,
    Bool,
    /// `xavier`, `he`, `uniform` or `normal`.
    Init,
    /// A string: a file's path, in double quotes (`data = csv("iris.csv", ...)`).
    Path,
    /// A string, or a bare name read as one: a column's name (`label = "species"`).
    Text,
    /// A fraction in (0, 1), or a string naming a file: which rows a table tests on
    /// (`test = 0.2`, `test = "test.csv"`).
    FractionOrFile,
}

/// A parameter's value when the call does not give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Required,
    Bool(bool),
    /// The number and how the language writes it.
    Number(f64, &'static str),
    /// Decided by the builder from context (`dense`'s initialiser, from what it feeds).
    Auto,
}

/// A bound and checked argument, in the order of its [`Builtin::params`].
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Layer(NodeId),
    Layers(Vec<NodeId>),
    Size(usize),
    Number(f32),
    Bool(bool),
    Init(Init),
    Pad(Padding),
    Text(String),
    Holdout(Holdout),
    Auto,
}

const fn param(name: &'static str, kind: ArgKind, default: Default) -> ParamDef {
    ParamDef {
        name,
        kind,
        default,
        what: "",
        help: "",
    }
}

/// The layer an op reads, piped in or given first.
const X: ParamDef = param("x", ArgKind::Layer, Default::Required);

/// Every built-in, in the order the language's help lists them.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "input",
        params: &[
            param("n", ArgKind::Size, Default::Required),
            param("h", ArgKind::Size, Default::Auto),
            param("w", ArgKind::Size, Default::Auto),
        ],
        help: "the per-sample input: `input(784)` for a vector of 784 values, `input(1, 28, 28)` for an image (channels, height, width)",
        activation: false,
        takes: Takes::Nothing,
        example: "input(4)",
        build: |call| call.input(),
    },
    Builtin {
        name: "dense",
        params: &[
            X,
            param("units", ArgKind::Size, Default::Required),
            param("bias", ArgKind::Bool, Default::Bool(true)),
            param("init", ArgKind::Init, Default::Auto),
        ],
        help: "a fully connected layer `x·Wᵀ + b` of `units` outputs",
        activation: false,
        takes: Takes::Vector,
        example: "x |> dense(3)",
        build: |call| {
            let (x, units) = (call.layer("x"), call.size("units"));
            let (bias, init) = (call.boolean("bias"), call.init("init"));
            let op = Op::Dense {
                units,
                bias,
                init: init.unwrap_or(Init::Xavier),
            };
            call.push_weighted(op, x, init.is_some())
        },
    },
    Builtin {
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
        build: |call| {
            let (x, p) = (call.layer("x"), call.number("p"));
            call.push(Op::Dropout { p }, vec![x])
        },
    },
    Builtin {
        name: "concat",
        params: &[param("a", ArgKind::Layers, Default::Required)],
        help: "joins two or more layers: vectors end to end, images along their channels",
        activation: false,
        takes: Takes::Any,
        example: "concat(x, x)",
        build: |call| call.concat("a"),
    },
    activation(
        "sigmoid",
        "`1 / (1 + e^-x)`, element-wise",
        "x |> sigmoid",
        Activation::Sigmoid,
    ),
    activation(
        "tanh",
        "`tanh x`, element-wise",
        "x |> tanh",
        Activation::Tanh,
    ),
    activation(
        "relu",
        "`max(x, 0)`, element-wise",
        "x |> relu",
        Activation::Relu,
    ),
    Builtin {
        name: "leaky_relu",
        params: &[
            X,
            param("slope", ArgKind::Number, Default::Number(0.01, "0.01")),
        ],
        help: "`x` where positive, `slope·x` elsewhere",
        activation: true,
        takes: Takes::Any,
        example: "x |> leaky_relu(slope = 0.1)",
        build: |call| {
            let (x, slope) = (call.layer("x"), call.number("slope"));
            call.push(Op::Activation(Activation::LeakyRelu { slope }), vec![x])
        },
    },
    activation(
        "softmax",
        "probabilities over a vector's values",
        "x |> softmax",
        Activation::Softmax,
    ),
    activation(
        "log_softmax",
        "the logarithm of `softmax`, computed stably",
        "x |> log_softmax",
        Activation::LogSoftmax,
    ),
    activation(
        "identity",
        "the layer unchanged",
        "x |> identity",
        Activation::Identity,
    ),
    Builtin {
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
        ],
        help: "a 2-D convolution of `filters` square `kernel`s, `[c, h, w]` to `[filters, h', w']`",
        activation: false,
        takes: Takes::Image,
        example: "x |> conv2d(3, 3, pad = same)",
        build: |call| {
            let (x, filters, kernel) = (call.layer("x"), call.size("filters"), call.size("kernel"));
            let (stride, padding) = (call.size("stride"), call.pad("pad"));
            let (bias, init) = (call.boolean("bias"), call.init("init"));
            let op = Op::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                bias,
                init: init.unwrap_or(Init::Xavier),
            };
            call.push_weighted(op, x, init.is_some())
        },
    },
    Builtin {
        name: "maxpool",
        params: &[
            X,
            param("size", ArgKind::Size, Default::Required),
            param("stride", ArgKind::Size, Default::Auto),
        ],
        help: "the maximum of each `size × size` window, `stride` apart (default `size`); the gradient goes to the first maximum",
        activation: false,
        takes: Takes::Image,
        example: "x |> maxpool(2)",
        build: |call| call.pool(Pooling::Max),
    },
    Builtin {
        name: "avgpool",
        params: &[
            X,
            param("size", ArgKind::Size, Default::Required),
            param("stride", ArgKind::Size, Default::Auto),
        ],
        help: "the mean of each `size × size` window, `stride` apart (default `size`)",
        activation: false,
        takes: Takes::Image,
        example: "x |> avgpool(2, stride = 1)",
        build: |call| call.pool(Pooling::Average),
    },
    Builtin {
        name: "global_avgpool",
        params: &[X],
        help: "the mean of each channel, `[c, h, w]` to `[c]`",
        activation: false,
        takes: Takes::Image,
        example: "x |> global_avgpool",
        build: |call| {
            let x = call.layer("x");
            call.push(Op::GlobalAvgPool, vec![x])
        },
    },
    Builtin {
        name: "batchnorm",
        params: &[
            X,
            ParamDef {
                what: "`momentum`",
                help: "`momentum` is the weight of each batch in the running statistics, PyTorch's default 0.1",
                ..param(
                    "momentum",
                    ArgKind::OpenFraction,
                    Default::Number(0.1, "0.1"),
                )
            },
            ParamDef {
                what: "`eps`",
                help: "`eps` is added to the variance before its square root, PyTorch's default 1e-5",
                ..param("eps", ArgKind::Positive, Default::Number(1e-5, "1e-5"))
            },
        ],
        help: "normalises each channel (image) or feature (vector) by the batch's statistics in training and running statistics at evaluation, then scales and shifts it",
        activation: false,
        takes: Takes::Any,
        example: "x |> batchnorm",
        build: |call| {
            let (x, momentum, eps) = (call.layer("x"), call.number("momentum"), call.number("eps"));
            call.push(Op::BatchNorm { momentum, eps }, vec![x])
        },
    },
    Builtin {
        name: "flatten",
        params: &[X],
        help: "an image as a vector, `[c, h, w]` to `[c·h·w]` in channel, row, column order",
        activation: false,
        takes: Takes::Any,
        example: "x |> flatten",
        build: |call| {
            let x = call.layer("x");
            call.push(Op::Flatten, vec![x])
        },
    },
];

/// A row for an activation without options: `name(x)`.
const fn activation(
    name: &'static str,
    help: &'static str,
    example: &'static str,
    which: Activation,
) -> Builtin {
    Builtin {
        name,
        params: &[X],
        help,
        activation: true,
        takes: match which {
            Activation::Softmax | Activation::LogSoftmax => Takes::Vector,
            _ => Takes::Any,
        },
        example,
        build: match which {
            Activation::Sigmoid => |call| call.activation(Activation::Sigmoid),
            Activation::Tanh => |call| call.activation(Activation::Tanh),
            Activation::Relu => |call| call.activation(Activation::Relu),
            Activation::Softmax => |call| call.activation(Activation::Softmax),
            Activation::LogSoftmax => |call| call.activation(Activation::LogSoftmax),
            Activation::Identity | Activation::LeakyRelu { .. } => {
                |call| call.activation(Activation::Identity)
            }
        },
    }
}

/// The row of a function, by name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Every function's name, in table order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    BUILTINS.iter().map(|b| b.name)
}

impl Builtin {
    /// The signature as help text shows it: `dense(x, units, bias = true|false, init =
    /// xavier|he|uniform|normal)`, `concat(a, b, ...)`.
    pub fn signature(&self) -> String {
        signature(self.name, self.params)
    }
}

/// `name(param, param = default, ...)`, as help text shows a function or an optimizer.
pub fn signature(name: &str, params: &[ParamDef]) -> String {
    let params: Vec<String> = params.iter().map(ParamDef::shown).collect();
    format!("{name}({})", params.join(", "))
}

impl ParamDef {
    fn shown(&self) -> String {
        let choices = match self.kind {
            ArgKind::Layers => return "a, b, ...".to_owned(),
            ArgKind::Bool => Some("true|false".to_owned()),
            ArgKind::Init => Some(
                Init::NAMES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            ArgKind::Pad => Some("N|same".to_owned()),
            _ => None,
        };
        match (self.default, choices) {
            (Default::Required, _) => self.name.to_owned(),
            (_, Some(choices)) => format!("{} = {choices}", self.name),
            (Default::Number(_, text), None) => format!("{} = {text}", self.name),
            (Default::Bool(b), None) => format!("{} = {b}", self.name),
            (Default::Auto, None) => self.name.to_owned(),
        }
    }

    /// How range errors name the parameter.
    pub fn what(&self) -> String {
        if self.what.is_empty() {
            format!("`{}`", self.name)
        } else {
            self.what.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    //! Walks the table: every row is complete, and its example parses, checks, shows,
    //! lowers onto a tape and passes the gradient check inside a small model.

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::autodiff::Tape;
    use crate::autodiff::gradcheck::check_tape;
    use crate::graph::lower::{Network, init_params};
    use crate::graph::{BuildOptions, Graph, build_graph};
    use crate::language::Source;

    /// Models around `builtin`'s example, one per shape its layer may have: a trainable
    /// layer before it (so its backward rule carries a gradient) and a scored output
    /// after it.
    fn models_around(builtin: &Builtin) -> Vec<String> {
        let vector = "    i = input(4)\n    x = i |> dense(4) |> tanh";
        let image = "    i = input(2, 6, 6)\n    x = i |> conv2d(2, 3, pad = 1) |> tanh";
        let contexts = match builtin.takes {
            Takes::Nothing => vec![format!("    x = {}", builtin.example)],
            Takes::Vector => vec![vector.to_owned()],
            Takes::Image => vec![image.to_owned()],
            Takes::Any => vec![vector.to_owned(), image.to_owned()],
        };
        let y = if builtin.takes == Takes::Nothing {
            "x"
        } else {
            builtin.example
        };
        contexts
            .into_iter()
            .map(|context| {
                format!(
                    "model t {{\n{context}\n    y = {y}\n    output = y |> flatten |> dense(3) |> softmax\n    loss = cross_entropy\n}}\n"
                )
            })
            .collect()
    }

    fn build(text: &str) -> Graph {
        let source = Source {
            path: "table.nn".into(),
            text: text.into(),
        };
        build_graph(&source, &BuildOptions::default())
            .unwrap_or_else(|e| panic!("{text}\n{}", e.rendered))
    }

    #[test]
    fn every_row_is_complete() {
        let mut seen = std::collections::HashSet::new();
        for builtin in BUILTINS {
            let name = builtin.name;
            assert!(seen.insert(name), "`{name}` has two rows");
            assert!(!builtin.help.is_empty(), "`{name}` has no help");
            assert!(
                builtin.example.contains(name),
                "`{name}`'s example does not use it"
            );
            assert!(builtin.signature().starts_with(&format!("{name}(")));
            for param in builtin.params {
                assert!(!param.name.is_empty(), "`{name}` has a nameless parameter");
                let ranged = matches!(param.kind, ArgKind::Fraction | ArgKind::Positive);
                assert!(
                    !ranged || !param.help.is_empty(),
                    "`{name}`'s `{}` has a range but no help for its range error",
                    param.name
                );
            }
            // An activation takes the layer and nothing it must be told.
            if builtin.activation {
                assert!(
                    builtin.params[1..]
                        .iter()
                        .all(|p| p.default != Default::Required),
                    "activation `{name}` has a required option"
                );
            }
        }
    }

    #[test]
    fn every_row_checks_shows_lowers_and_passes_gradcheck() {
        for (builtin, text) in BUILTINS
            .iter()
            .flat_map(|b| models_around(b).into_iter().map(move |text| (b, text)))
        {
            let name = builtin.name;
            let graph = build(&text);
            // Checks: the row's builder made the row's op.
            let made: Vec<_> = graph.nodes.iter().filter(|n| n.op.kind() == name).collect();
            assert!(
                !made.is_empty(),
                "`{name}`'s example made no `{name}` node:\n{text}"
            );
            // Shows: a description and a shape for every node.
            for node in &made {
                assert!(
                    node.op.describe().starts_with(name),
                    "`{name}` shows as {}",
                    node.op.describe()
                );
                assert!(node.shape.numel() > 0);
            }
            // Lowers, and its gradients agree with finite differences.
            let mut rng = StdRng::seed_from_u64(1);
            let (mut params, node_params) = init_params(&graph, &mut rng).unwrap();
            let mut tape = Tape::new();
            tape.set_training(true);
            let batch = 3;
            let mut net = Network::record(&graph, &params, &node_params, tape, batch, true)
                .unwrap_or_else(|e| panic!("`{name}` does not lower: {e}"));
            for v in net.tape.value_mut(net.input).unwrap() {
                *v = rng.random_range(-1.0..1.0);
            }
            net.set_targets(&[0, 2, 1]).unwrap();
            let loss = net.loss.unwrap();
            let report = check_tape(&mut net.tape, &mut params, loss, 16);
            assert!(
                report.ok(),
                "`{name}`: gradient check failed in\n{text}\n{report:?}"
            );
        }
    }
}
