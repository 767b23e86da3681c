//! `nnc eval FILE --weights W`: the test-set accuracy and loss of saved weights. The
//! weights must match the model exactly (`weights::load` lists the differences); the
//! model is built with the file's `let`s and `--set` overrides, as `nnc run` built it.

use std::io::Write;

use crate::rng::Generator;
use rand::SeedableRng;
use serde::Serialize;

use crate::cli::args::RunArgs;
use crate::cli::commands::check::print_json;
use crate::cli::commands::run::scores_text;
use crate::cli::config::{Session, prepare};
use crate::training::{Model, evaluate, weights};

/// The `--json` output of `nnc eval`: `test_accuracy` for a classifier, `test_mse` and
/// `test_r2` for a regression.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub weights: String,
    /// Test-set accuracy, 0..1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f32>,
    /// Mean test loss; `null` when the model has no `loss` line.
    pub test_loss: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_mse: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_r2: Option<f32>,
    /// Test samples evaluated.
    pub samples: usize,
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let Some(path) = &args.train.weights else {
        return Err(crate::Error::Usage(
            "`nnc eval` needs the weights to evaluate: `--weights PATH` (written by `nnc run --save PATH`)"
                .into(),
        )
        .into());
    };
    let session = prepare(args, false)?;
    let Session {
        graph,
        config,
        data,
        ..
    } = &session;
    // The initial draw is overwritten by the load; it only gives the parameters their
    // names and shapes.
    let mut rng = Generator::seed_from_u64(config.settings.seed);
    let mut model = Model::init(graph, &mut rng).map_err(crate::Error::Train)?;
    weights::load(&mut model.params, path).map_err(|e| crate::Error::Train(e.into()))?;
    let scores =
        evaluate(graph, &model, &data.test, 0..data.test.len()).map_err(crate::Error::Train)?;
    let report = EvalReport {
        model: graph.name.clone(),
        weights: path.display().to_string(),
        test_accuracy: scores.accuracy,
        test_loss: graph.loss.map(|_| scores.loss),
        test_mse: scores.mse,
        test_r2: scores.r2,
        samples: data.test.len(),
    };
    if args.model.flags.json {
        print_json(&report)?;
    } else if !args.model.flags.quiet {
        let scores = match (report.test_accuracy, report.test_mse, report.test_loss) {
            (Some(accuracy), _, loss) => {
                let loss = loss
                    .map(|l| format!(", test loss {l:.4}"))
                    .unwrap_or_default();
                format!("test accuracy {:.2} %{loss}", accuracy * 100.0)
            }
            (None, Some(mse), _) => scores_text(None, scores.loss, Some(mse), report.test_r2),
            (None, None, _) => "no test scores".to_owned(),
        };
        writeln!(
            std::io::stdout(),
            "{} with {}: {scores} on {} samples",
            report.model,
            report.weights,
            report.samples,
        )?;
    }
    Ok(())
}
