//! The front end on arbitrary bytes, as `nnc check` runs it: parse, evaluate the `let`s
//! and `--set` overrides, build and validate the graph, render every diagnostic; for a
//! graph that builds, also what `nnc show` prints (parameter and FLOP counts) and what a
//! training command checks before it reads any data (the dataset's widths, the loss).
//!
//! Input: a model file and its `--set` flags (see `nnc_fuzz::model_input`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use nnc::cli::commands::show::ShowReport;
use nnc::graph::{build_graph, validate};

fuzz_target!(|data: &[u8]| {
    let Some((source, options)) = nnc_fuzz::model_input(data) else {
        return;
    };
    match build_graph(&source, &options) {
        Ok(graph) => {
            assert!(graph.input.index() < graph.nodes.len());
            assert!(graph.output.index() < graph.nodes.len());
            for (id, node) in graph.nodes.iter().enumerate() {
                assert!(node.inputs.iter().all(|input| input.index() < id));
            }
            // `nnc show`'s table: parameter and FLOP counts per node and in all.
            std::hint::black_box(ShowReport::new(&graph, None).table());
            std::hint::black_box(ShowReport::new(&graph, Some(1)).table());
            let mnist = nnc::data::describe(&nnc::data::DataSource::Mnist).expect("built in");
            if let Err(diagnostics) = validate::check_dataset(&source, &graph, &mnist, false) {
                assert!(diagnostics.rendered.starts_with("error: "));
            }
            if graph.loss.is_none() {
                let diagnostics = validate::missing_loss(&source, &graph, false);
                assert!(diagnostics.rendered.starts_with("error: "));
            }
        }
        Err(diagnostics) => {
            assert!(!diagnostics.items.is_empty());
            assert!(diagnostics.rendered.starts_with("error: "));
            for item in &diagnostics.items {
                assert!(
                    item.span.start <= item.span.end && item.span.end <= source.text.len(),
                    "{item:?} in a text of {} bytes",
                    source.text.len()
                );
            }
        }
    }
});
