//! What an operation's PyTorch translation sees of the exporter (`crate::export::torch`
//! implements it). An op's ONNX translation is its PyTorch one too: the exporter writes
//! one line of Python for each ONNX node the op emits. An op that acts differently in
//! training (dropout, batch norm), which an ONNX graph made for inference does not say,
//! overrides [`super::Layer::torch`] and writes its Python itself.

use super::Onnx;

/// The exporter, as one graph node's PyTorch translation sees it: [`Onnx`]'s operands and
/// tensors name Python values (`Onnx::tensor` is the registered parameter or buffer).
pub trait Torch: Onnx {
    /// Sets the node's value to the Python expression `code`; `self.training` is the
    /// module's mode.
    fn python(&mut self, code: String);

    /// Runs the Python statement `code` (lines, indented from their first) before the
    /// node's value, for its effect: a buffer's update.
    fn statement(&mut self, code: String);
}

/// A number as a Python literal that reads back as the same `f32`.
pub fn float(value: f32) -> String {
    if value.is_nan() {
        "float('nan')".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "float('inf')"
        } else {
            "-float('inf')"
        }
        .into()
    } else {
        format!("{value:?}")
    }
}
