//! The divergence rule for a finite loss (`src/training/divergence.rs`) never fires on a
//! healthy run: every model in `models/` trains a couple of epochs on a few hundred real
//! samples, through the library, and its running loss stays far below the bound. (The
//! other side, runs that explode, is in `tests/run.rs` and the rule's unit tests.)

mod util;

use std::path::Path;

use nnc::graph::{BuildOptions, build_graph};
use nnc::language::Source;
use nnc::rng::Generator;
use nnc::training::{DIVERGENCE_FACTOR, Model, TrainConfig, train};
use rand::SeedableRng;

#[test]
fn no_shipped_model_comes_near_the_divergence_bound() {
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    for name in util::model_names() {
        let path = util::model(&name);
        let source = Source {
            path: path.display().to_string(),
            text: std::fs::read_to_string(&path).unwrap(),
        };
        let options = BuildOptions {
            overrides: Vec::new(),
            color: false,
        };
        let graph = build_graph(&source, &options).unwrap();
        let data = nnc::data::open(&graph.train.data, Some(&data_dir)).unwrap();
        let mut settings = graph.train.clone();
        settings.epochs = 2;
        let mut rng = Generator::seed_from_u64(settings.seed);
        let mut model = Model::init(&graph, &mut rng).unwrap();
        let config = TrainConfig::new(settings, Some(600));
        let report = train(&graph, &mut model, &data, &config, &mut rng, &mut |_| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // Healthy runs peak at about their first loss (full-length runs of every shipped
        // model: at most 1.2); a tenth of the factor still leaves a margin of 100.
        assert!(
            report.peak_loss_ratio < DIVERGENCE_FACTOR / 10.0,
            "{name}: the running loss reached {} times its reference",
            report.peak_loss_ratio
        );
        assert!(report.peak_loss_ratio > 0.0, "{name}: no step was checked");
    }
}
