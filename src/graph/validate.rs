//! Checks that need the finished graph: its input and output against the dataset (the
//! data layer says what a dataset offers), the total number of parameters (from each op's
//! own parameter specs), and the memory one batch needs. Also the diagnostic the training
//! commands raise for a model without a `loss`.

use super::{Graph, Role};
use crate::data::{self, Description, SampleShape, Target};
use crate::language::{Diagnostic, Diagnostics, Source};
use crate::ops::limits::{MAX_ACTIVATIONS, MAX_PARAMS, batch_activations};

/// The problems of a built graph, in source order of the checks.
pub(super) fn whole_graph(graph: &Graph) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    // Only a dataset the file names is checked here: with the default, the size check
    // waits for the data actually loaded (`check_dataset`), so small test models need no
    // `train` block.
    if let (Some(described), Some(_)) = (data::describe(&graph.train.data), graph.train.data_span) {
        problems.extend(dataset_mismatches(graph, &described));
    }
    let mut total: usize = 0;
    for node in &graph.nodes {
        let specs = node.op.tensors(&graph.input_shapes(node));
        let counted = specs.ok().and_then(|specs| {
            specs
                .iter()
                .filter(|spec| spec.role == Role::Trainable)
                .try_fold(total, |sum, spec| sum.checked_add(spec.shape.numel()))
        });
        match counted.filter(|&t| t <= MAX_PARAMS) {
            Some(sum) => total = sum,
            None => {
                problems.push(
                    Diagnostic::new(
                        "the model is too large to allocate",
                        node.span,
                        format!("the parameters pass {MAX_PARAMS} here"),
                    )
                    .with_help("use fewer or smaller layers"),
                );
                return problems;
            }
        }
    }
    let sizes = graph.nodes.iter().map(|n| n.shape.numel());
    if batch_activations(graph.train.batch, sizes).is_none_or(|floats| floats > MAX_ACTIVATIONS) {
        problems.push(
            Diagnostic::new(
                format!(
                    "a batch of {} is too large to allocate for this model",
                    graph.train.batch
                ),
                graph.node(graph.output).span,
                "too many values per batch",
            )
            .with_help("use a smaller `batch`"),
        );
    }
    problems
}

/// Checks the model's `input` and `output` against a dataset found at run time.
pub fn check_dataset(
    source: &Source,
    graph: &Graph,
    dataset: &Description,
    color: bool,
) -> Result<(), Diagnostics> {
    let problems = dataset_mismatches(graph, dataset);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics::new(source, problems, color))
    }
}

fn dataset_mismatches(graph: &Graph, dataset: &Description) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let name = &dataset.name;
    let input = graph.node(graph.input);
    let offered = dataset.input_shapes();
    if !offered.contains(&input.shape.dims()) {
        let features = dataset.features();
        let SampleShape {
            channels,
            rows,
            cols,
        } = dataset.shape;
        let (what, help) = match (rows > 1, channels > 1) {
            (true, false) => (
                format!("whose samples have {features} values"),
                format!(
                    "`{name}` images are {rows}x{cols} = {features} pixels: declare `input({features})` or `input(1, {rows}, {cols})`"
                ),
            ),
            (true, true) => (
                format!("whose samples have {features} values"),
                format!(
                    "`{name}` images are {channels} channels of {rows}x{cols}: declare `input({channels}, {rows}, {cols})`"
                ),
            ),
            (false, _) => (
                format!("whose samples have {features} features"),
                format!("declare `input({features})`"),
            ),
        };
        problems.push(
            Diagnostic::new(
                format!(
                    "`input({})` does not match `{name}`, {what}",
                    input
                        .shape
                        .dims()
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                input.span,
                format!("expected `input({features})`"),
            )
            .with_help(help),
        );
    }
    let output = graph.node(graph.output);
    let values = output.shape.numel();
    match dataset.target {
        Target::Classes(classes) if values != classes || !output.shape.is_vector() => {
            problems.push(
                Diagnostic::new(
                    format!("`output` has {values} values but `{name}` has {classes} classes"),
                    output.span,
                    format!("expected {classes} values"),
                )
                .with_help(format!(
                    "end the model with a layer of {classes} units, e.g. `dense({classes})`"
                )),
            );
        }
        Target::Value if values != 1 => {
            problems.push(
                Diagnostic::new(
                    format!(
                        "`output` has {values} values but `{name}` has one value to predict per row (`loss = mse` reads its label as a number)"
                    ),
                    output.span,
                    "expected 1 value",
                )
                .with_help(
                    "end the model with `dense(1)`, or classify with `loss = cross_entropy`",
                ),
            );
        }
        Target::Classes(_) | Target::Value => {}
    }
    problems
}

/// The diagnostic a training command raises for a model without `loss`: `check` and
/// `show` accept such a model, training cannot.
pub fn missing_loss(source: &Source, graph: &Graph, color: bool) -> Diagnostics {
    let output = graph.node(graph.output);
    let diagnostic = Diagnostic::new(
        format!(
            "model `{}` has no `loss`, so it cannot be trained",
            graph.name
        ),
        output.span,
        "the output is never scored",
    )
    .with_help("add `loss = cross_entropy` (or `loss = mse`) to the model");
    Diagnostics::single(source, diagnostic, color)
}
