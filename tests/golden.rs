//! The same bits on every x86-64 CPU: a few shipped models trained for some steps must
//! give weights whose SHA-256 is the one committed here. CI lands on AMD Zen 3 (AVX2 +
//! FMA) machines and on Intel Xeons with AVX-512, so this test passing on both is the
//! proof that the two kinds of machine compute the same bits, not only each the same as
//! itself (see "Same bits on every CPU" in the README for how the kernels make it so).
//!
//! A change that reorders any sum on the training path changes these hashes on purpose:
//! the test then prints the new ones, to be committed with the change once its bits are
//! known to be width-independent (by construction, not by trying one machine).

mod util;

use sha2::{Digest, Sha256};
use util::{model, nnc};

/// (model, the run's flags, SHA-256 of the saved weights): an MLP (sigmoid, softmax,
/// the zero-skipping first layer), per-sample training (batch 1), a CNN with batch norm,
/// the residual net, the MobileNet (depthwise convolutions, hardswish) and the best
/// Fashion MLP (Adam). First committed from an AMD EPYC (Zen 3, AVX2 + FMA).
const GOLDEN: &[(&str, &[&str], &str)] = &[
    (
        "mnist_sigmoid",
        &["--samples", "2000", "--batch", "64"],
        "648d0cb237b244794aeda4f82dbf66caa32d7e2bb1a4debed0f2c44839b6990f",
    ),
    (
        "mnist_tanh",
        &["--samples", "1000", "--batch", "1"],
        "63a0243ac77a65eb1d7ed92c77f72df737b4e86c7874e1b4083e2d53b5a618b9",
    ),
    (
        "mnist_cnn",
        &["--samples", "512", "--batch", "64"],
        "18bbe30e1374275c8ebb129b2c19fdc12871f0b977de1db8683f5ef822757272",
    ),
    (
        "mnist_resnet",
        &["--samples", "512", "--batch", "64"],
        "e34bda3175d68c1c68c51223b531483bca362776f90db6b1741ec4e7f2be4d45",
    ),
    (
        "mnist_mobilenet",
        &["--samples", "256", "--batch", "32"],
        "1c97dd723a9a10e446986aadc0715890852341e7f280f9002700fe10aefbb4db",
    ),
    (
        "fashion_best",
        &["--samples", "1000", "--batch", "100"],
        "6aabd56e5db16319764297ca6b6aa711991ef487441e692cb7e2ee4a3ffb4622",
    ),
];

fn trained_weights_hash(dir: &std::path::Path, name: &str, flags: &[&str]) -> String {
    let path = dir.join(format!("{name}.safetensors"));
    nnc()
        .arg("run")
        .arg(model(name))
        .args(flags)
        .args([
            "--epochs",
            "1",
            "--threads",
            "2",
            "--seed",
            "7",
            "--quiet",
            "--save",
        ])
        .arg(&path)
        .assert()
        .success();
    let bytes = std::fs::read(&path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The promise holds where nnc's own product kernels run (AVX2 + FMA or AVX-512) in a
/// build with FMA compiled in (the default `target-cpu=native`); a portable build takes
/// `matrixmultiply`'s products and is the same only on its own machine.
fn the_promise_applies() -> bool {
    nnc::kernels::detected_isa().is_some() && cfg!(target_feature = "fma")
}

#[test]
fn trained_weights_have_the_committed_hashes_on_every_cpu() {
    if !the_promise_applies() {
        eprintln!("skipped: no AVX2+FMA or AVX-512 kernels in this build or on this CPU");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for &(name, flags, want) in GOLDEN {
        let got = trained_weights_hash(dir.path(), name, flags);
        if got != want {
            wrong.push(format!(
                "    (\"{name}\", {flags:?}, \"{got}\"), // was \"{want}\""
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "trained weights differ from the committed hashes on this CPU ({}):\n{}",
        nnc::kernels::detected_isa().map_or("none", |isa| isa.name()),
        wrong.join("\n")
    );
}
