//! Prints libFuzzer's dictionary for the `front_end` and `train` targets: the language's
//! syntax and the words of its `train` block, then every built-in function and parameter
//! from nnc's function table, so a new function is in the dictionary the day it lands.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --bin dictionary > fuzz/front_end.dict`
//! (the README's fuzzing commands start with it; the file is not committed).

/// Keywords, punctuation, numbers and the `train` block's words.
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
    "cross_entropy",
    "mse",
    "data",
    "mnist",
    "fashion_mnist",
    "optimizer",
    "sgd",
    "adam",
    "lr",
    "beta1",
    "beta2",
    "epochs",
    "batch",
    "seed",
    "shuffle",
    "validation",
    "early_stopping",
    "lr_decay",
    "flip",
    "shift",
    "xavier",
    "he",
    "uniform",
    "normal",
    "same",
    "|>",
    "=",
    "(",
    ")",
    "{",
    "}",
    ",",
    "+",
    "-",
    "*",
    "#",
    "1e-3",
    "0.5",
    "784",
    "10",
    "\n",
    "\"dir\"",
    "\0",
    "weight_decay",
    "schedule",
    "cosine",
    "onecycle",
    "max_lr",
    "csv",
    "npz",
    "label",
    "test",
    "normalize",
];

fn main() {
    let mut words: Vec<&str> = SYNTAX.to_vec();
    for builtin in nnc::ops::builtins() {
        words.push(builtin.name);
        words.extend(builtin.params.iter().map(|p| p.name));
    }
    let mut seen = std::collections::HashSet::new();
    println!(
        "# libFuzzer dictionary for the front_end and train targets (written by fuzz/src/bin/dictionary.rs)."
    );
    for word in words.into_iter().filter(|w| seen.insert(*w)) {
        let escaped: String = word
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' => format!("\\{}", b as char),
                0x20..=0x7e => (b as char).to_string(),
                _ => format!("\\x{b:02X}"),
            })
            .collect();
        println!("\"{escaped}\"");
    }
}
