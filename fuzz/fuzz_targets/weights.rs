//! Reading a safetensors weights file against a model, as `nnc eval --weights` and
//! `nnc run --weights` do: the bytes go through `weights::load_bytes` (what
//! `weights::load` runs on a file's contents) into the parameters of two small models,
//! one whose dense layers keep the saved `[units, n_in]` layout (one without a bias) and
//! one with a layer of 32 units, stored transposed, and two dense layers on one line.
//!
//! Input: the file's bytes. A load either fails and leaves the parameters as they were,
//! or succeeds; then saving and loading again must give the same bits.

#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use nnc::autodiff::Params;
use nnc::graph::{BuildOptions, build_graph};
use nnc::language::Source;
use nnc::rng::Generator;
use nnc::training::weights;
use rand::SeedableRng;

const MODELS: [&str; 2] = [
    "model narrow {
    x      = input(3)
    h      = x |> dense(2) |> relu
    output = h |> dense(2, bias = false) |> softmax
    loss   = cross_entropy
}
",
    "model wide {
    x      = input(2)
    h      = x |> dense(32) |> tanh |> dense(2)
    output = h |> softmax
    loss   = cross_entropy
}
",
];

/// Each model's freshly drawn parameters: they give the names and shapes a file must have.
static PARAMS: LazyLock<Vec<Params>> = LazyLock::new(|| {
    MODELS
        .iter()
        .map(|text| {
            let source = Source {
                path: "fuzz.nn".into(),
                text: (*text).into(),
            };
            let graph = build_graph(&source, &BuildOptions::default()).expect("a valid model");
            let (params, _) =
                nnc::graph::lower::init_params(&graph, &mut Generator::seed_from_u64(1))
                    .expect("a small model");
            params
        })
        .collect()
});

/// Every parameter's values in its saved layout, as bits (NaNs compare by their bits).
fn bits(params: &Params) -> Vec<Vec<u32>> {
    params
        .ids()
        .map(|id| {
            params
                .saved_values(id)
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    for fresh in PARAMS.iter() {
        let mut params = fresh.clone();
        match weights::load_bytes(&mut params, data, path) {
            Err(err) => {
                assert!(!err.to_string().is_empty());
                assert_eq!(
                    bits(&params),
                    bits(fresh),
                    "a failed load changed the parameters"
                );
            }
            Ok(()) => {
                let saved = weights::to_bytes(&params).expect("loaded weights serialise");
                let mut again = fresh.clone();
                weights::load_bytes(&mut again, &saved, path).expect("saved weights load");
                assert_eq!(
                    bits(&again),
                    bits(&params),
                    "a save and load changed the bits"
                );
            }
        }
    }
});
