//! Export of a trained network for other runtimes: ONNX, and PyTorch source (`torch.rs`). `onnx.rs` translates a
//! validated graph and its trained tensors, one arm per graph op, into the graph that
//! `builder.rs` assembles; `proto.rs` holds the protobuf messages generated from ONNX's
//! official schema. Reads the graph, the autodiff
//! layer's parameters and the training layer's [`Model`](crate::training::Model); writing
//! the file is the caller's (the `nnc export` command writes it atomically).

mod builder;
pub mod onnx;
pub mod proto;
pub mod torch;

use prost::Message;

pub use onnx::{INPUT, IR_VERSION, OPSET, OUTPUT, to_onnx};
pub use torch::to_torch;

/// A protobuf message may not be larger than 2 GiB; ONNX runtimes refuse one that is.
const MAX_PROTOBUF_BYTES: usize = i32::MAX as usize;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The tensors given are not those of the graph (a model made for another graph).
    #[error("the tensors do not match the model: {0}")]
    Mismatch(String),
    /// An op whose translation the PyTorch export does not have.
    #[error("the PyTorch export cannot translate node `{node}`: it has no Python for {what}")]
    Unsupported { node: String, what: String },
    #[error(
        "the model is too large for one ONNX file: {bytes} bytes, a protobuf holds at most {MAX_PROTOBUF_BYTES}"
    )]
    TooLarge { bytes: usize },
}

/// The model's bytes, as an `.onnx` file holds them.
pub fn encode(model: &proto::ModelProto) -> Result<Vec<u8>, ExportError> {
    let bytes = model.encoded_len();
    if bytes > MAX_PROTOBUF_BYTES {
        return Err(ExportError::TooLarge { bytes });
    }
    Ok(model.encode_to_vec())
}
