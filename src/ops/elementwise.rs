//! What every element-wise op of one layer shares, `y = f(x)` with the input's shape: its
//! layer (shape rule, FLOPs, lowering, ONNX node) and its tape rule (forward, backward,
//! kinks) come from the op's [`Elementwise`] implementation, so an activation's file is
//! its row, its kernel and its derivative.

use super::{Attr, Init, Layer, Lowering, Onnx};
use crate::autodiff::{
    Grads, Kinks, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var,
};

/// An element-wise op of one operand whose output has the operand's shape.
pub trait Elementwise: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The op's name in the language and in timing tables.
    const NAME: &'static str;
    /// The ONNX operator that computes it.
    const ONNX: &'static str;
    /// Forward floating-point operations per element.
    const FLOPS: u64;

    /// `out[i] = f(x[i])`.
    fn forward(&self, x: &[f32], out: &mut [f32]);

    /// `grad_x[i] += grad_y[i] · f′(x[i])`, from the input `x` or the output `y`.
    fn backward(&self, x: &[f32], y: &[f32], grad_y: &[f32], grad_x: &mut [f32]);

    /// The op with its arguments, when it has any.
    fn describe(&self) -> String {
        Self::NAME.to_owned()
    }

    /// Where its derivative jumps (`relu`'s 0).
    fn kinks(&self) -> Option<&'static [f32]> {
        None
    }

    /// The ONNX node's attributes.
    fn onnx_attributes(&self) -> Vec<Attr> {
        Vec::new()
    }

    /// The ONNX translation: one [`Elementwise::ONNX`] node of the operand.
    fn onnx(&self, at: &mut dyn Onnx) {
        at.emit(Self::ONNX, vec![at.input(0)], self.onnx_attributes());
    }

    /// The initialiser that suits weights feeding it, when the file names none.
    fn init_for_inputs(&self) -> Option<Init> {
        None
    }
}

impl Tape {
    /// `op` applied to every element of `x`.
    pub fn elementwise(&mut self, op: impl Elementwise, x: Var) -> Var {
        let shape = self.shape(x);
        self.push(op, &[x], shape)
    }
}

impl<T: Elementwise> Layer for T {
    fn kind(&self) -> &'static str {
        T::NAME
    }

    fn describe(&self) -> String {
        Elementwise::describe(self)
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        T::FLOPS * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        Ok(at.tape.elementwise(self.clone(), at.x()))
    }

    fn onnx(&self, at: &mut dyn Onnx) {
        Elementwise::onnx(self, at);
    }

    fn init_for_inputs(&self) -> Option<Init> {
        Elementwise::init_for_inputs(self)
    }
}

impl<T: Elementwise> Rule for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn kinks(&self) -> Option<Kinks> {
        Elementwise::kinks(self).map(|at| Kinks { input: 0, at })
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        Elementwise::forward(self, cx.input(0), out);
    }

    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        if let Some(grad) = grads.get_mut(cx.inputs[0]) {
            Elementwise::backward(self, cx.input(0), out, grad_out, grad);
        }
    }
}
