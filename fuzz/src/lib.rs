//! What the fuzz targets share: turning the fuzzer's bytes into a model file and its
//! `--set` flags, as the command line would hand them to `build_graph`.

use nnc::cli::config::parse_overrides;
use nnc::graph::BuildOptions;
use nnc::language::Source;

/// The model file's bytes, optionally followed by a NUL byte and `--set` flags, one
/// `NAME=VALUE` per line. `None` when a flag is malformed (`nnc` stops with a usage
/// error before it reads the file) or when the file is not UTF-8, which `nnc` reads
/// through the same `Source::from_bytes` and reports as a diagnostic at the first
/// invalid byte (checked here).
pub fn model_input(data: &[u8]) -> Option<(Source, BuildOptions)> {
    let (model, sets) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let sets: Vec<String> = String::from_utf8_lossy(sets)
        .lines()
        .map(str::to_owned)
        .collect();
    let overrides = parse_overrides(&sets).ok()?;
    let source = match Source::from_bytes("fuzz.nn".into(), model.to_vec(), false) {
        Ok(source) => source,
        Err(diagnostics) => {
            assert!(diagnostics.rendered.starts_with("error: "));
            return None;
        }
    };
    let options = BuildOptions {
        overrides,
        color: false,
    };
    Some((source, options))
}
