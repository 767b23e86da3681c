//! A row of the function table (in the spirit of ripgrep's `flags/defs.rs`): a
//! function's name, its parameters (kind, default, range, help), a one-line help,
//! whether it is an activation, an example call, and the function that makes its layer.
//! Each operation's file holds its own row; [`super::builtins`] lists them all. Argument
//! binding, the "did you mean" lists, the signatures in error messages and the table the
//! README shows all read it, so nothing can disagree with it; `tests` walks it and runs
//! every row through a small model.

use super::{Init, Layer};
use crate::kernels::conv::Padding;

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
    /// Makes the layer from arguments already bound and checked against `params`; its
    /// operands are the call's layer arguments, in order.
    pub build: fn(&Args<'_>) -> Result<Box<dyn Layer>, Refusal>,
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
    /// A layer of the network: the index of its graph node.
    Layer(u32),
    Layers(Vec<u32>),
    Size(usize),
    Number(f32),
    Bool(bool),
    Init(Init),
    Pad(Padding),
    Text(String),
    FractionOrFile(FractionOrFile),
    Auto,
}

/// A [`ArgKind::FractionOrFile`] argument.
#[derive(Debug, Clone, PartialEq)]
pub enum FractionOrFile {
    Fraction(f64),
    File(String),
}

pub const fn param(name: &'static str, kind: ArgKind, default: Default) -> ParamDef {
    ParamDef {
        name,
        kind,
        default,
        what: "",
        help: "",
    }
}

/// The layer an op reads, piped in or given first.
pub const X: ParamDef = param("x", ArgKind::Layer, Default::Required);

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

/// Why a call's arguments make no layer, though each is valid alone: a diagnostic at the
/// call (or at the function's name).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub message: String,
    pub label: String,
    pub help: Option<String>,
    /// Point at the function's name rather than the whole call.
    pub at_function: bool,
}

/// A call's checked arguments, by parameter name: the table guarantees each exists with
/// the kind asked for (the table's test runs every row).
pub struct Args<'a> {
    pub builtin: &'static Builtin,
    pub values: &'a [Arg],
}

impl Args<'_> {
    fn arg(&self, name: &str) -> &Arg {
        let at = self
            .builtin
            .params
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("builtins: `{}` has no `{name}`", self.builtin.name));
        &self.values[at]
    }

    pub fn size(&self, name: &str) -> usize {
        match self.arg(name) {
            Arg::Size(n) => *n,
            other => panic!("builtins: `{name}` is {other:?}, not a size"),
        }
    }

    /// A size, or `None` when the call left it to the function.
    pub fn size_if_given(&self, name: &str) -> Option<usize> {
        match self.arg(name) {
            Arg::Size(n) => Some(*n),
            Arg::Auto => None,
            other => panic!("builtins: `{name}` is {other:?}, not a size"),
        }
    }

    pub fn pad(&self, name: &str) -> Padding {
        match self.arg(name) {
            Arg::Pad(padding) => *padding,
            other => panic!("builtins: `{name}` is {other:?}, not a padding"),
        }
    }

    pub fn number(&self, name: &str) -> f32 {
        match self.arg(name) {
            Arg::Number(x) => *x,
            other => panic!("builtins: `{name}` is {other:?}, not a number"),
        }
    }

    pub fn boolean(&self, name: &str) -> bool {
        match self.arg(name) {
            Arg::Bool(b) => *b,
            other => panic!("builtins: `{name}` is {other:?}, not a bool"),
        }
    }

    /// The initialiser written, or `None` for the default the builder decides.
    pub fn init(&self, name: &str) -> Option<Init> {
        match self.arg(name) {
            Arg::Init(init) => Some(*init),
            Arg::Auto => None,
            other => panic!("builtins: `{name}` is {other:?}, not an init"),
        }
    }

    /// How many layers a [`ArgKind::Layers`] parameter was given.
    pub fn layer_count(&self, name: &str) -> usize {
        match self.arg(name) {
            Arg::Layers(layers) => layers.len(),
            other => panic!("builtins: `{name}` is {other:?}, not a list of layers"),
        }
    }
}

/// A row for an activation without options, `name(x)`: `example` is `x |> name`.
pub const fn activation(
    name: &'static str,
    help: &'static str,
    example: &'static str,
    takes: Takes,
    build: fn(&Args<'_>) -> Result<Box<dyn Layer>, Refusal>,
) -> Builtin {
    Builtin {
        name,
        params: &[X],
        help,
        activation: true,
        takes,
        example,
        build,
    }
}
