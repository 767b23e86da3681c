//! The front end on arbitrary bytes, as `nnc check` runs it: parse, evaluate the `let`s
//! and `--set` overrides, build and validate the graph, render every diagnostic; for a
//! graph that builds, also what `nnc show` prints (parameter and FLOP counts) and what a
//! training command checks before it reads any data (the dataset's widths, the loss).
//!
//! Input: the model file's bytes, optionally followed by a NUL byte and `--set` flags,
//! one `NAME=VALUE` per line. `nnc check` reads a file as UTF-8 text; until it takes raw
//! bytes (issue 11, item 5), invalid UTF-8 is replaced by U+FFFD here, so the parser
//! still sees every other byte as given.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nnc::cli::commands::check::parse_overrides;
use nnc::cli::commands::show::ShowReport;
use nnc::graph::{BuildOptions, build_graph, validate};
use nnc::language::Source;

fuzz_target!(|data: &[u8]| {
    let (model, sets) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let sets: Vec<String> = String::from_utf8_lossy(sets)
        .lines()
        .map(str::to_owned)
        .collect();
    // A malformed flag is a usage error before the file is read, as in `nnc check`.
    let Ok(overrides) = parse_overrides(&sets) else {
        return;
    };
    let source = Source {
        path: "fuzz.nn".into(),
        text: String::from_utf8_lossy(model).into_owned(),
    };
    let options = BuildOptions {
        overrides,
        color: false,
    };
    match build_graph(&source, &options) {
        Ok(graph) => {
            assert!(graph.input.index() < graph.nodes.len());
            assert!(graph.output.index() < graph.nodes.len());
            for (id, node) in graph.nodes.iter().enumerate() {
                assert!(node.inputs.iter().all(|input| input.index() < id));
            }
            // `nnc show`'s table: parameter and FLOP counts per node and in all.
            std::hint::black_box(ShowReport::new(&graph).table());
            if let Err(diagnostics) =
                validate::check_dataset(&source, &graph, "mnist", 784, 10, false)
            {
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
