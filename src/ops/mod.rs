//! The operations: one file each, holding all the operation knows. A function of the
//! language (`dense`, `relu`, `conv2d`) is a [`Layer`] for the graph (its row in the
//! function table, shape rule, tensors, FLOPs, description, lowering onto the tape and
//! ONNX translation) and, where it computes something of its own, an
//! [`autodiff::Rule`](crate::autodiff::Rule) for the tape (forward, backward, scratch,
//! kinks, fused update). Operations the language writes without a function (`+`, `2 *
//! x`) and those only the lowering records (`matmul`, the fused softmax cross-entropy)
//! live here the same way.
//!
//! Adding one: a file here and one line in [`register!`]'s list below. The compiler
//! asks for every method without a default; the defaults are what most operations do
//! (no tensors, no scratch, no kink, nothing after a step).

use std::any::Any;
use std::fmt;

use crate::autodiff::{ParamId, Params, Shape, ShapeError, Tape, TapeError, Var};

pub mod elementwise;
pub mod function;
pub mod limits;
pub mod onnx;
pub mod tensors;
pub mod torch;

#[cfg(test)]
mod tests;

pub use function::{Arg, ArgKind, Args, Builtin, Default, ParamDef, Refusal, Takes, signature};
pub use onnx::{Attr, Onnx, TensorRef};
pub use tensors::{
    Declare, Fill, Init, InitChoice, Owned, ParamSpec, Role, SpecList, Tensors, WeightAndBias,
};
pub use torch::Torch;

/// The modules of the operations, and the function table made of their rows: each
/// module's `FUNCTIONS` (empty for an operation the language has no function for), in
/// the order the language's help lists them.
macro_rules! register {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every built-in function, in the order the language's help lists them.
        pub fn builtins() -> impl Iterator<Item = &'static Builtin> + Clone {
            const ALL: &[&[Builtin]] = &[$($module::FUNCTIONS),*];
            ALL.iter().flat_map(|rows| rows.iter())
        }
    };
}

register! {
    input,
    dense,
    dropout,
    dropout2d,
    concat,
    sigmoid,
    tanh,
    relu,
    leaky_relu,
    softmax,
    log_softmax,
    identity,
    hardswish,
    hardsigmoid,
    gelu,
    silu,
    conv2d,
    pool,
    global_avgpool,
    upsample,
    batchnorm,
    layernorm,
    flatten,
    add,
    sub,
    mul,
    scale,
    add_scalar,
    standardize,
    matmul,
    bias_add,
    sum,
    mean,
    exp,
    log,
    softmax_cross_entropy,
}

/// The row of a function, by name.
pub fn find(name: &str) -> Option<&'static Builtin> {
    builtins().find(|b| b.name == name)
}

/// Every function's name, in table order.
pub fn names() -> impl Iterator<Item = &'static str> + Clone {
    builtins().map(|b| b.name)
}

/// One operation of the graph: what a node computes, per sample.
pub trait Layer: fmt::Debug + Send + Sync + LayerBase {
    /// The short name, as used in derived node names and by `nnc show`: a built-in's own
    /// name, or `add`, `sub`, `mul`, `scale`, `add_scalar` for arithmetic.
    fn kind(&self) -> &'static str;

    /// The op with its arguments: `dense(256, init = xavier)`, `dropout(0.5)`.
    fn describe(&self) -> String {
        self.kind().to_owned()
    }

    /// The shape of the output from the inputs' (per sample); a refusal is a diagnostic
    /// at the node.
    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError>;

    /// The tensors the node owns, given its inputs' shapes, in the order they are drawn
    /// and saved. `Err` when one is too large to allocate.
    fn tensors(&self, _inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        Ok(Vec::new())
    }

    /// Forward floating-point operations per sample.
    fn flops(&self, inputs: &[Shape], output: Shape) -> u64;

    /// Records the node on the tape.
    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError>;

    /// Emits the node's ONNX translation.
    fn onnx(&self, at: &mut dyn Onnx);

    /// Emits the node's PyTorch translation: its ONNX one, unless training changes what
    /// it computes (see [`Torch`]).
    fn torch(&self, at: &mut dyn Torch) {
        self.onnx(at);
    }

    /// The model's input: the caller writes its value.
    fn is_input(&self) -> bool {
        false
    }

    /// A layer with weights whose initialiser the file may leave to the builder.
    fn weight_init(&mut self) -> Option<&mut InitChoice> {
        None
    }

    /// The initialiser that suits weights feeding this layer, when the file names none
    /// (He before `relu`, which halves the variance He makes up for).
    fn init_for_inputs(&self) -> Option<Init> {
        None
    }

    /// A softmax over its input: cross-entropy on it is computed from the input (the
    /// logits) in one stable step.
    fn is_softmax_of_input(&self) -> bool {
        false
    }
}

impl Clone for Box<dyn Layer> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl dyn Layer {
    /// The layer as its own type, when it is one (`standardize`, whose statistics the
    /// trainer writes).
    pub fn downcast_ref<T: Layer + 'static>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }
}

/// What every layer has by being a `Clone + 'static` type; implemented for all of them.
pub trait LayerBase {
    fn clone_box(&self) -> Box<dyn Layer>;
    fn as_any(&self) -> &dyn Any;
}

impl<T: Layer + Clone + 'static> LayerBase for T {
    fn clone_box(&self) -> Box<dyn Layer> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What lowering one graph node sees: the tape, its operands' variables and per-sample
/// shapes, its own per-sample shape, the batch size, and the tensors it owns.
pub struct Lowering<'a> {
    pub tape: &'a mut Tape,
    pub params: &'a Params,
    pub inputs: &'a [Var],
    pub input_shapes: &'a [Shape],
    /// The node's per-sample shape.
    pub shape: Shape,
    pub batch: usize,
    pub(crate) owned: &'a [ParamId],
}

/// A tensor of the node on the tape: its parameter and the variable that reads it.
#[derive(Debug, Clone, Copy)]
pub struct Tensor {
    pub id: ParamId,
    pub var: Var,
}

impl Lowering<'_> {
    /// Operand 0, the layer a function reads.
    pub fn x(&self) -> Var {
        self.inputs[0]
    }

    /// The node's own shape with the batch in front.
    pub fn batched(&self) -> Result<Shape, TapeError> {
        self.shape.batched(self.batch)
    }

    /// The tensors of the node as `declare` names them, each read by a new parameter node
    /// of the tape.
    pub fn tensors<T>(
        &mut self,
        declare: impl FnOnce(&[Shape], &mut TapeTensors<'_, '_>) -> Result<T, TapeError>,
    ) -> Result<T, TapeError> {
        let mut sink = TapeTensors {
            tape: self.tape,
            params: self.params,
            owned: Owned::new(self.owned),
        };
        declare(self.input_shapes, &mut sink)
    }
}

/// Each declared tensor of a node being lowered, as a parameter node of the tape.
pub struct TapeTensors<'t, 'a> {
    tape: &'t mut Tape,
    params: &'a Params,
    owned: Owned<'a>,
}

impl Declare<Tensor> for TapeTensors<'_, '_> {
    fn tensor(&mut self, spec: ParamSpec) -> Result<Tensor, TapeError> {
        let id = self.owned.tensor(spec)?;
        Ok(Tensor {
            id,
            var: self.tape.param(self.params, id),
        })
    }
}
