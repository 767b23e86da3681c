//! The settings table's rows, the defaults, and the shown block read back.

use super::*;

#[test]
fn schedules_follow_pytorch() {
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs().max(1e-3);
    // Cosine annealing from 0.1 to 0 over 100 steps (`CosineAnnealingLR`, eta_min 0).
    let cosine = |step| Schedule::Cosine.lr_at(0.1, step, 100);
    assert!(close(cosine(0), 0.1) && close(cosine(50), 0.05) && cosine(100) == 0.0);
    // `OneCycleLR(max_lr = 1, total_steps = 100)`: 0.04 at step 0, 1 at step 29
    // (`pct_start·total − 1`), 4e-6 at step 99, the halves cosines.
    let one = |step| Schedule::OneCycle { max_lr: 1.0 }.lr_at(0.5, step, 100);
    assert!(close(one(0), 0.04), "{}", one(0));
    assert!(close(one(29), 1.0), "{}", one(29));
    assert!(close(one(99), 4e-6), "{}", one(99));
    let mid_rise = 0.04 + (1.0 - 0.04) * 0.5 * (1.0 - (std::f64::consts::PI * 14.0 / 29.0).cos());
    assert!(close(one(14), mid_rise as f32), "{}", one(14));
    assert_eq!(Schedule::Constant.lr_at(0.3, 7, 10), 0.3);
}

#[test]
fn every_setting_has_help_and_a_default_of_its_kind() {
    let mut seen = std::collections::HashSet::new();
    for setting in SETTINGS {
        assert!(seen.insert(setting.name), "`{}` has two rows", setting.name);
        assert!(!setting.help.is_empty(), "`{}` has no help", setting.name);
        let fits = match (setting.kind, &setting.default) {
            (Kind::Data, Setting::Data(_))
            | (Kind::Optimizer, Setting::Optimizer(_))
            | (Kind::Schedule, Setting::Schedule(_))
            | (Kind::Scalar(Scalar::Bool), Setting::Bool(_))
            | (Kind::Scalar(Scalar::WholeOrOff { .. }), Setting::Off) => true,
            (Kind::Scalar(Scalar::Whole { min, max, .. }), Setting::Whole(n)) => {
                (min..=max).contains(n)
            }
            (Kind::Scalar(Scalar::WholeOrOff { min }), Setting::Whole(n)) => *n >= min,
            (Kind::Scalar(kind @ Scalar::Number { .. }), Setting::Number(x)) => kind.admits(*x),
            _ => false,
        };
        assert!(fits, "`{}`'s default does not fit its kind", setting.name);
    }
}

#[test]
fn the_defaults_are_the_language_contract_s() {
    let s = TrainSettings::default();
    assert_eq!(
        (s.epochs, s.batch, s.seed, s.shuffle, s.validation),
        (10, 32, 0, true, 0.0)
    );
    assert_eq!(
        s.optimizer,
        OptimizerSettings::Sgd {
            lr: 0.1,
            momentum: 0.0
        }
    );
    assert_eq!(
        (s.early_stopping, s.lr_decay, s.flip, s.shift),
        (None, 1.0, 0.0, 0)
    );
    assert_eq!((s.weight_decay, s.schedule), (0.0, Schedule::Constant));
    assert_eq!(s.data, DataSource::Mnist);
}

/// `text` with its `train` block (the last, ending in a `}` alone on a line) replaced
/// by `block`, or `block` appended when it has none.
fn with_train_block(text: &str, block: &str) -> String {
    match text.find("\ntrain {") {
        Some(start) => {
            let end = text[start..]
                .find("\n}")
                .map_or(text.len(), |e| start + e + 3);
            format!(
                "{}\n{block}{}",
                &text[..start],
                &text[end.min(text.len())..]
            )
        }
        None => format!("{text}\n{block}"),
    }
}

#[test]
fn a_rendered_train_block_reads_back_as_the_same_settings() {
    use crate::graph::{BuildOptions, build_graph};
    use crate::language::Source;
    let build = |text: &str| {
        let source = Source {
            path: "t.nn".into(),
            text: text.into(),
        };
        build_graph(&source, &BuildOptions::default())
            .unwrap_or_else(|e| panic!("{text}\n{}", e.rendered))
            .train
    };
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut texts: Vec<String> = std::fs::read_dir(models)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    // Every setting away from its default, a table and the other schedules.
    let tiny = "model t {\n    x = input(4)\n    output = x |> dense(3) |> softmax\n    loss = cross_entropy\n}\n";
    texts.push(format!(
        "{tiny}train {{\n    data = csv(\"t.csv\", label = \"y\", test = \"u.csv\", normalize = false)\n    optimizer = sgd(lr = 0.05, momentum = 0.9)\n    seed = 18446744073709551615\n    shuffle = false\n    validation = 0.25\n    early_stopping = 3\n    weight_decay = 5e-4\n    schedule = cosine\n}}\n"
    ));
    texts.push(format!(
        "{tiny}train {{\n    data = \"some/dir\"\n    lr_decay = 0.5\n    flip = 1\n    shift = 3\n}}\n"
    ));
    texts.push(format!("{tiny}train {{\n    data = npz(\"a.npz\")\n}}\n"));
    for text in texts {
        let settings = build(&text);
        let block = train_block(&settings);
        let again = build(&with_train_block(&text, &block));
        assert_eq!(
            TrainSettings {
                data_span: None,
                ..again
            },
            TrainSettings {
                data_span: None,
                ..settings
            },
            "{block}"
        );
    }
}
