//! `input(n)` or `input(c, h, w)`: the model's one input, a vector or an image per
//! sample, which the caller writes before each forward pass.

use super::function::param;
use super::limits::MAX_WIDTH;
use super::{ArgKind, Builtin, Default, Layer, Lowering, Onnx, Refusal, Takes};
use crate::autodiff::{Shape, ShapeError, TapeError, Var};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
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
    build: |args| {
        let n = args.size("n");
        let dims = match (args.size_if_given("h"), args.size_if_given("w")) {
            (None, None) => vec![n],
            (Some(h), Some(w)) => vec![n, h, w],
            _ => {
                return Err(Refusal {
                    message: "`input` takes one size (a vector) or three (channels, height, width)"
                        .to_owned(),
                    label: "two sizes".to_owned(),
                    help: Some("e.g. `input(784)` or `input(1, 28, 28)`".to_owned()),
                    at_function: false,
                });
            }
        };
        Ok(Box::new(Input { dims }))
    },
}];

/// The declared per-sample dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub dims: Vec<usize>,
}

impl Layer for Input {
    fn kind(&self) -> &'static str {
        "input"
    }

    /// The declared shape: it has no operands.
    fn shape(&self, _inputs: &[Shape]) -> Result<Shape, ShapeError> {
        match Shape::new(&self.dims) {
            Ok(shape) if shape.numel() <= MAX_WIDTH => Ok(shape),
            _ => Err(ShapeError::new(
                "this input is too large to allocate",
                format!("more than {MAX_WIDTH} values per sample"),
            )
            .with_help("layers are limited to 2^24 values per sample")),
        }
    }

    fn flops(&self, _inputs: &[Shape], _output: Shape) -> u64 {
        0
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let shape = at.batched()?;
        Ok(at.tape.input(shape))
    }

    /// The graph's input, `input`: no node (see `export::to_onnx`).
    fn onnx(&self, _at: &mut dyn Onnx) {}

    fn is_input(&self) -> bool {
        true
    }
}
