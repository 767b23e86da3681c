//! The ONNX protobuf messages, generated at build time by `build.rs` from the official
//! schema (`proto/onnx.proto`).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
