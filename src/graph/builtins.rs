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

/// One built-in function of the language.
pub struct Builtin {
    pub name: &'static str,
    pub params: &'static [ParamDef],
    /// One line, for help text and the README.
    pub help: &'static str,
    /// Takes a layer and nothing else, so it can be written after `|>` or named by a
    /// `let` (`let act = relu`).
    pub activation: bool,
    /// A call as written after `x |>` in a model line (or as the whole line, for
    /// `input`), used by the documentation and by the table's own test.
    pub example: &'static str,
    /// Creates the node from arguments already bound and checked against `params`.
    pub build: fn(&mut Call<'_, '_>) -> Result<NodeId, ()>,
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
    Bool,
    /// `xavier`, `he`, `uniform` or `normal`.
    Init,
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
        params: &[param("n", ArgKind::Size, Default::Required)],
        help: "the per-sample input: `input(784)` for 784 values",
        activation: false,
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
        example: "dense(3)",
        build: |call| {
            let (x, units) = (call.layer("x"), call.size("units"));
            let (bias, init) = (call.boolean("bias"), call.init("init"));
            let op = Op::Dense {
                units,
                bias,
                init: init.unwrap_or(Init::Xavier),
            };
            let node = call.push(op, vec![x])?;
            if init.is_none() {
                call.default_init(node);
            }
            Ok(node)
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
        example: "dropout(0.5)",
        build: |call| {
            let (x, p) = (call.layer("x"), call.number("p"));
            call.push(Op::Dropout { p }, vec![x])
        },
    },
    Builtin {
        name: "concat",
        params: &[param("a", ArgKind::Layers, Default::Required)],
        help: "joins two or more layers: vectors end to end",
        activation: false,
        example: "concat(x, x)",
        build: |call| call.concat("a"),
    },
    activation(
        "sigmoid",
        "`1 / (1 + e^-x)`, element-wise",
        Activation::Sigmoid,
    ),
    activation("tanh", "`tanh x`, element-wise", Activation::Tanh),
    activation("relu", "`max(x, 0)`, element-wise", Activation::Relu),
    Builtin {
        name: "leaky_relu",
        params: &[
            X,
            param("slope", ArgKind::Number, Default::Number(0.01, "0.01")),
        ],
        help: "`x` where positive, `slope·x` elsewhere",
        activation: true,
        example: "leaky_relu(slope = 0.1)",
        build: |call| {
            let (x, slope) = (call.layer("x"), call.number("slope"));
            call.push(Op::Activation(Activation::LeakyRelu { slope }), vec![x])
        },
    },
    activation(
        "softmax",
        "probabilities over a vector's values",
        Activation::Softmax,
    ),
    activation(
        "log_softmax",
        "the logarithm of `softmax`, computed stably",
        Activation::LogSoftmax,
    ),
    activation("identity", "the layer unchanged", Activation::Identity),
];

/// A row for an activation without options: `name(x)`.
const fn activation(name: &'static str, help: &'static str, which: Activation) -> Builtin {
    Builtin {
        name,
        params: &[X],
        help,
        activation: true,
        example: name,
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
