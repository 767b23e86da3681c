//! Walks the function table: every row is complete, and its example parses, checks,
//! shows, lowers onto a tape and passes the gradient check inside a small model.

use crate::rng::Generator;
use rand::{Rng, SeedableRng};

use super::{ArgKind, Builtin, Default, Takes, builtins};
use crate::autodiff::Tape;
use crate::autodiff::gradcheck::check_tape;
use crate::graph::lower::{Network, init_params};
use crate::graph::{BuildOptions, Graph, build_graph};
use crate::language::Source;

/// Models around `builtin`'s example, one per shape its layer may have: a trainable
/// layer before it (so its backward rule carries a gradient) and a scored output
/// after it.
fn models_around(builtin: &Builtin) -> Vec<String> {
    let vector = "    i = input(4)\n    x = i |> dense(4) |> tanh";
    let image = "    i = input(2, 6, 6)\n    x = i |> conv2d(2, 3, pad = 1) |> tanh";
    let contexts = match builtin.takes {
        Takes::Nothing => vec![format!("    x = {}", builtin.example)],
        Takes::Vector => vec![vector.to_owned()],
        Takes::Image => vec![image.to_owned()],
        Takes::Any => vec![vector.to_owned(), image.to_owned()],
    };
    let y = if builtin.takes == Takes::Nothing {
        "x"
    } else {
        builtin.example
    };
    contexts
        .into_iter()
        .map(|context| {
            format!(
                "model t {{\n{context}\n    y = {y}\n    output = y |> flatten |> dense(3) |> softmax\n    loss = cross_entropy\n}}\n"
            )
        })
        .collect()
}

fn build(text: &str) -> Graph {
    let source = Source {
        path: "table.nn".into(),
        text: text.into(),
    };
    build_graph(&source, &BuildOptions::default())
        .unwrap_or_else(|e| panic!("{text}\n{}", e.rendered))
}

#[test]
fn every_row_is_complete() {
    let mut seen = std::collections::HashSet::new();
    for builtin in builtins() {
        let name = builtin.name;
        assert!(seen.insert(name), "`{name}` has two rows");
        assert!(!builtin.help.is_empty(), "`{name}` has no help");
        assert!(
            builtin.example.contains(name),
            "`{name}`'s example does not use it"
        );
        assert!(builtin.signature().starts_with(&format!("{name}(")));
        for param in builtin.params {
            assert!(!param.name.is_empty(), "`{name}` has a nameless parameter");
            let ranged = matches!(param.kind, ArgKind::Fraction | ArgKind::Positive);
            assert!(
                !ranged || !param.help.is_empty(),
                "`{name}`'s `{}` has a range but no help for its range error",
                param.name
            );
        }
        // An activation takes the layer and nothing it must be told.
        if builtin.activation {
            assert!(
                builtin.params[1..]
                    .iter()
                    .all(|p| p.default != Default::Required),
                "activation `{name}` has a required option"
            );
        }
    }
}

#[test]
fn every_row_checks_shows_lowers_and_passes_gradcheck() {
    for (builtin, text) in
        builtins().flat_map(|b| models_around(b).into_iter().map(move |text| (b, text)))
    {
        let name = builtin.name;
        let graph = build(&text);
        // Checks: the row's builder made the row's op.
        let made: Vec<_> = graph.nodes.iter().filter(|n| n.op.kind() == name).collect();
        assert!(
            !made.is_empty(),
            "`{name}`'s example made no `{name}` node:\n{text}"
        );
        // Shows: a description and a shape for every node.
        for node in &made {
            assert!(
                node.op.describe().starts_with(name),
                "`{name}` shows as {}",
                node.op.describe()
            );
            assert!(node.shape.numel() > 0);
        }
        // Lowers, and its gradients agree with finite differences.
        let mut rng = Generator::seed_from_u64(1);
        let (mut params, node_params) = init_params(&graph, &mut rng).unwrap();
        let mut tape = Tape::new();
        tape.set_training(true);
        let batch = 3;
        let mut net = Network::record(&graph, &params, &node_params, tape, batch, true)
            .unwrap_or_else(|e| panic!("`{name}` does not lower: {e}"));
        for v in net.tape.value_mut(net.input).unwrap() {
            *v = rng.random_range(-1.0..1.0);
        }
        net.set_targets(&[0, 2, 1]).unwrap();
        let loss = net.loss.unwrap();
        let report = check_tape(&mut net.tape, &mut params, loss, 16);
        assert!(
            report.ok(),
            "`{name}`: gradient check failed in\n{text}\n{report:?}"
        );
    }
}
