//! What the fuzz targets share: turning the fuzzer's bytes into a model file and its
//! `--set` flags, as the command line would hand them to `build_graph`.

use nnc::cli::commands::check::parse_overrides;
use nnc::graph::BuildOptions;
use nnc::language::Source;

/// The model file's bytes, optionally followed by a NUL byte and `--set` flags, one
/// `NAME=VALUE` per line. `None` when a flag is malformed: `nnc` stops with a usage
/// error before it reads the file. `nnc check` reads a file as UTF-8 text; until it
/// takes raw bytes (issue 11, item 5), invalid UTF-8 is replaced by U+FFFD here, so the
/// parser still sees every other byte as given.
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
    let source = Source {
        path: "fuzz.nn".into(),
        text: String::from_utf8_lossy(model).into_owned(),
    };
    let options = BuildOptions {
        overrides,
        color: false,
    };
    Some((source, options))
}
