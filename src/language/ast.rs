//! The syntax tree of a `.nn` file. Every node keeps the byte span it was written at, so
//! semantic analysis (in `graph::build`) can point its diagnostics at the exact spot.
//!
//! Pipes are gone by the time a tree exists: `a |> f(b)` is stored as the call `f(a, b)`
//! with `piped` set, so later stages see one form of call.

use super::Span;

/// A whole file, its items kept in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub lets: Vec<Let>,
    pub blocks: Vec<Block>,
    pub models: Vec<Model>,
    pub trains: Vec<Train>,
}

/// A name as written, e.g. the `h` of `h = ...` or the `dense` of `dense(10)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `let NAME = VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub value: Expr,
}

/// `model NAME { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: Ident,
    pub bindings: Vec<Binding>,
}

/// `block NAME(x, params...) { bindings }`: a piece of network called like a built-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub name: Ident,
    /// The first is the block's input; the others are values, with defaults after those
    /// without.
    pub params: Vec<Param>,
    pub bindings: Vec<Binding>,
}

/// `NAME` or `NAME = DEFAULT` in a block's parameter list.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub default: Option<Expr>,
}

/// `train { ... }`; `keyword` is the span of the word `train`.
#[derive(Debug, Clone, PartialEq)]
pub struct Train {
    pub keyword: Span,
    pub settings: Vec<Binding>,
}

/// `NAME = EXPR`, in a model body or a train block.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// The whole expression, e.g. all of `x |> dense(10)`.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number and its text, so whole numbers too large for an `f64` can be read exactly.
    Number {
        value: f64,
        text: String,
    },
    Str(String),
    Bool(bool),
    Name(String),
    /// `func(args)`, or `args[0] |> func(args[1..])` when `piped`.
    Call {
        func: Ident,
        args: Vec<Arg>,
        piped: bool,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

/// One argument of a call; `name` is set for `name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }
}

impl Expr {
    /// The span to point at when this expression is a layer: for a call, from the
    /// function's name to the closing parenthesis (`dense(10)` in `x |> dense(10)`).
    pub fn node_span(&self) -> Span {
        match &self.kind {
            ExprKind::Call { func, .. } => Span {
                start: func.span.start,
                end: self.span.end,
            },
            _ => self.span,
        }
    }
}
