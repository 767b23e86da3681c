//! Property tests: whatever the bytes, the front end ends in a graph or in diagnostics,
//! never a panic, and every diagnostic points inside the file.

use nnc::graph::{BuildOptions, build_graph};
use nnc::language::Source;
use proptest::prelude::*;

mod util;

/// The text of every model in `models/`.
static MODELS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    util::model_names()
        .iter()
        .map(|name| std::fs::read_to_string(util::model(name)).expect("a model is readable"))
        .collect()
});

/// The language's syntax and the words of its `train` block and values; the built-in
/// functions and their parameters come from the function table (see [`tokens`]).
const SYNTAX: &[&str] = &[
    "let",
    "model",
    "train",
    "block",
    "repeat",
    "out",
    "output",
    "loss",
    "true",
    "false",
    "x",
    "h",
    "m",
    "cross_entropy",
    "mse",
    "data",
    "mnist",
    "optimizer",
    "sgd",
    "adam",
    "lr",
    "epochs",
    "batch",
    "seed",
    "shuffle",
    "validation",
    "early_stopping",
    "bias",
    "init",
    "he",
    "0",
    "1",
    "784",
    "10",
    "-0.5",
    "1e-3",
    "2.5",
    "1e999",
    "99999999999999999999",
    "\"dir\"",
    "=",
    "(",
    ")",
    "{",
    "}",
    ",",
    "|>",
    "+",
    "-",
    "*",
    "#",
    "\n",
    " ",
    "\t",
];

/// Every token a soup is made of: [`SYNTAX`], then each built-in's name and parameter
/// names, read from the function table so a new function is fuzzed from the day it lands.
static TOKENS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    let mut tokens = SYNTAX.to_vec();
    for builtin in nnc::ops::builtins() {
        tokens.push(builtin.name);
        tokens.extend(builtin.params.iter().map(|p| p.name));
    }
    tokens.sort_unstable();
    tokens.dedup();
    tokens
});

/// Builds `text`; checks the outcome is well formed instead of a panic.
fn front_end(text: &str, overrides: Vec<(String, String)>) -> Result<(), TestCaseError> {
    let source = Source {
        path: "fuzz.nn".into(),
        text: text.into(),
    };
    match build_graph(
        &source,
        &BuildOptions {
            overrides,
            color: false,
        },
    ) {
        Ok(graph) => {
            prop_assert!(graph.input.index() < graph.nodes.len());
            prop_assert!(graph.output.index() < graph.nodes.len());
            for (id, node) in graph.nodes.iter().enumerate() {
                prop_assert!(
                    node.inputs.iter().all(|input| input.index() < id),
                    "inputs come first"
                );
            }
        }
        Err(diagnostics) => {
            prop_assert!(!diagnostics.items.is_empty());
            prop_assert!(diagnostics.rendered.starts_with("error: "));
            for item in &diagnostics.items {
                prop_assert!(
                    item.span.start <= item.span.end && item.span.end <= text.len(),
                    "{:?}",
                    item
                );
            }
        }
    }
    Ok(())
}

/// One single-character edit of `text`: insert, delete or replace at `at`.
fn edit(text: &str, kind: u8, at: usize, c: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    match kind % 3 {
        0 => chars.insert(at, c),
        1 if at < chars.len() => {
            chars.remove(at);
        }
        _ if at < chars.len() => chars[at] = c,
        _ => chars.push(c),
    }
    chars.into_iter().collect()
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        front_end(&String::from_utf8_lossy(&bytes), Vec::new())?;
    }

    #[test]
    fn token_soups_never_panic(tokens in proptest::collection::vec(proptest::sample::select(TOKENS.clone()), 0..80)) {
        front_end(&tokens.join(" "), Vec::new())?;
        front_end(&tokens.concat(), Vec::new())?;
    }

    #[test]
    fn single_character_edits_of_every_model_never_panic(
        model in 0..MODELS.len(),
        kind in any::<u8>(),
        at in any::<usize>(),
        c in proptest::sample::select(vec!['(', ')', '{', '}', '=', ',', '|', '>', '+', '-', '*', '#', '"', '\n', ' ', 'a', 'x', '0', '9', '.', 'e', '_', 'é']),
    ) {
        front_end(&edit(&MODELS[model], kind, at, c), Vec::new())?;
    }

    #[test]
    fn random_overrides_never_panic(
        model in 0..MODELS.len(),
        name in proptest::sample::select(vec!["hidden", "act", "width", "p", "lr", "nope"]),
        value in proptest::sample::select(vec!["0", "-1", "2.5", "1e30", "relu", "sigmod", "true", "\"s\"", "", "999999999999"]),
    ) {
        front_end(&MODELS[model], vec![(name.to_owned(), value.to_owned())])?;
    }
}

#[test]
fn every_model_builds() {
    for text in MODELS.iter() {
        let source = Source {
            path: "m.nn".into(),
            text: text.clone(),
        };
        build_graph(&source, &BuildOptions::default()).unwrap();
    }
}

/// Every deletion, and a few replacements, at every position of every model.
#[test]
fn every_single_character_deletion_is_handled() {
    for text in MODELS.iter() {
        for at in 0..text.chars().count() {
            for (kind, c) in [(1, ' '), (2, '('), (2, '\n'), (0, '}')] {
                front_end(&edit(text, kind, at, c), Vec::new()).unwrap();
            }
        }
    }
}
