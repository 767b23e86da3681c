//! Generates the ONNX protobuf types (`onnx.rs` in `OUT_DIR`, included by
//! `src/export/proto.rs`) from the vendored official schema, `proto/onnx.proto`. protox
//! compiles the schema in pure Rust, so building needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["onnx.proto"], ["proto"])?;
    // No comments: they are the schema's prose, which rustdoc would read as doctests.
    prost_build::Config::new()
        .disable_comments(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
