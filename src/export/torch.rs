//! PyTorch export: a validated [`Graph`] as the Python source of a `torch.nn.Module`
//! whose tensors have nnc's names, so that
//! `model.load_state_dict(safetensors.torch.load_file(W), strict=True)` loads nnc's
//! weights file as it is, and whose `forward` computes what nnc computes.
//!
//! Every tensor is registered where its dotted name says (`b1.conv2d0.weight` is the
//! parameter `weight` of the submodule `conv2d0` of `b1`; containers are plain
//! `nn.Module`s), trainable ones as parameters and the rest (running statistics) as
//! buffers. What each op computes is its own translation ([`crate::ops::Layer::torch`]):
//! its ONNX one, each ONNX node it emits becoming one line of Python below, or Python it
//! writes itself where training changes what it does. Everything here is op-agnostic.

use std::fmt::Write;

use super::ExportError;
use super::builder::Names;
use super::onnx::read_by_output;
use crate::autodiff::{ParamId, Params, Shape};
use crate::graph::{Graph, NodeId};
use crate::ops::torch::float;
use crate::ops::{Attr, Onnx, TensorRef, Torch};
use crate::training::Model;

/// What the generated file starts with: how to use it, and the helpers that register a
/// tensor at a dotted name.
const PREAMBLE: &str = r#"import torch
import torch.nn as nn
import torch.nn.functional as F


def _owner(root, path):
    """The module holding the tensor at the dotted `path`, and the tensor's own name;
    missing containers are made as plain modules."""
    *parents, name = path.split(".")
    module = root
    for part in parents:
        if part not in module._modules:
            module.add_module(part, nn.Module())
        module = module._modules[part]
    return module, name


def _parameter(root, path, shape):
    module, name = _owner(root, path)
    module.register_parameter(name, nn.Parameter(torch.empty(shape)))


def _buffer(root, path, shape, dtype=torch.float32):
    module, name = _owner(root, path)
    module.register_buffer(name, torch.zeros(shape, dtype=dtype))
"#;

/// Python's keywords and the names the generated `forward` uses itself: no value takes
/// them.
const RESERVED: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "self", "torch", "nn", "F", "input", "float",
];

/// `graph` with the tensors of `model` (made for this graph) as a Python file defining
/// `class Model(nn.Module)`.
pub fn to_torch(graph: &Graph, model: &Model) -> Result<String, ExportError> {
    let params = &model.params;
    let input_shape = graph.node(graph.input).shape;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\"\"\"The nnc model `{}` as a PyTorch module, written by `nnc export --format torch`.\n\n\
         Its tensors have the names of nnc's weights file, so\n\n    \
         import safetensors.torch\n    \
         model = Model()\n    \
         model.load_state_dict(safetensors.torch.load_file(\"weights.safetensors\"), strict=True)\n    \
         model.eval()\n    \
         output = model(x)  # x: float32 [batch, {}], as nnc reads its input\n\n\
         gives nnc's outputs (`nnc eval`'s). Tensors are created empty: load weights, or\n\
         initialise them, before use. Needs only torch (and safetensors to load the file).\n\"\"\"\n",
        graph.name,
        dims_text(input_shape)
    );
    out.push_str(PREAMBLE);
    let _ = writeln!(out, "\n\nclass Model(nn.Module):");
    let _ = writeln!(
        out,
        "    \"\"\"`{}`: input `[batch, {}]`, output `[batch, {}]`.\"\"\"\n",
        graph.name,
        dims_text(input_shape),
        dims_text(graph.node(graph.output).shape)
    );
    let _ = writeln!(out, "    input_shape = {}", tuple(&input_shape.dims()));
    let _ = writeln!(out, "\n    def __init__(self):\n        super().__init__()");
    for id in params.ids() {
        let _ = writeln!(out, "        {}", registration(params, id));
    }
    let _ = writeln!(out, "\n    def forward(self, input):");

    let mut names = Names::reserving(RESERVED);
    let mut values: Vec<String> = Vec::with_capacity(graph.nodes.len());
    let needed = read_by_output(graph);
    let mut lines = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let id = NodeId(index as u32);
        if id == graph.input {
            values.push("input".to_owned());
            continue;
        }
        values.push(names.fresh(&identifier(&node.name)));
        if !needed[index] {
            continue;
        }
        let owned = model
            .node_params
            .get(index)
            .ok_or_else(|| ExportError::Mismatch(format!("no tensors for node `{}`", node.name)))?;
        let mut at = At {
            params,
            node_name: &node.name,
            inputs: node
                .inputs
                .iter()
                .map(|i| values[i.index()].clone())
                .collect(),
            input_shapes: graph.input_shapes(node),
            output: values[index].clone(),
            tensors: owned.clone(),
            names: &mut names,
            lines: &mut lines,
            unsupported: None,
        };
        node.op.torch(&mut at);
        if let Some(op) = at.unsupported {
            return Err(ExportError::Unsupported {
                node: node.name.clone(),
                what: op,
            });
        }
    }
    for line in &lines {
        let _ = writeln!(out, "        {line}");
    }
    let _ = writeln!(out, "        return {}", values[graph.output.index()]);
    Ok(out)
}

fn dims_text(shape: Shape) -> String {
    shape
        .dims()
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `dims` as a Python tuple: `()`, `(784,)`, `(1, 28, 28)`.
fn tuple(dims: &[usize]) -> String {
    match dims {
        [] => "()".to_owned(),
        [d] => format!("({d},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The `__init__` line registering tensor `id` under its name, with its saved shape.
fn registration(params: &Params, id: ParamId) -> String {
    let name = params.name(id);
    let shape = tuple(&params.saved_shape(id).dims());
    if params.is_trainable(id) {
        format!("_parameter(self, {name:?}, {shape})")
    } else if params.is_count(id) {
        format!("_buffer(self, {name:?}, {shape}, torch.long)")
    } else {
        format!("_buffer(self, {name:?}, {shape})")
    }
}

/// How `forward` reaches the tensor `name`: `self.h.weight`, or through `get_parameter`
/// / `get_buffer` when a part of the name is not a Python identifier (`s1.1.conv.weight`).
fn accessor(params: &Params, id: ParamId) -> String {
    let name = params.name(id);
    if name.split('.').all(is_identifier) {
        format!("self.{name}")
    } else if params.is_trainable(id) {
        format!("self.get_parameter({name:?})")
    } else {
        format!("self.get_buffer({name:?})")
    }
}

fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&part)
}

/// A node's name as a Python variable: `output.dense` is `output_dense`.
fn identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    id
}

/// The node being translated: its operands' variables, the variable its value takes, its
/// tensors, and the lines of `forward` so far.
struct At<'a> {
    params: &'a Params,
    node_name: &'a str,
    inputs: Vec<String>,
    input_shapes: Vec<Shape>,
    output: String,
    tensors: Vec<ParamId>,
    names: &'a mut Names,
    lines: &'a mut Vec<String>,
    /// The first ONNX operator emitted that has no Python here.
    unsupported: Option<String>,
}

impl At<'_> {
    fn assign(&mut self, to: String, op_type: &str, inputs: &[String], attributes: &[Attr]) {
        match expression(op_type, inputs, attributes) {
            Some(code) => self.lines.push(format!("{to} = {code}")),
            None => {
                self.unsupported
                    .get_or_insert_with(|| format!("the ONNX operator `{op_type}`"));
            }
        }
    }
}

impl Onnx for At<'_> {
    fn input(&self, k: usize) -> String {
        self.inputs[k].clone()
    }

    fn inputs(&self) -> Vec<String> {
        self.inputs.clone()
    }

    fn input_shape(&self, k: usize) -> Shape {
        self.input_shapes[k]
    }

    fn input_shapes(&self) -> Vec<Shape> {
        self.input_shapes.clone()
    }

    fn tensor(&mut self, tensor: TensorRef) -> String {
        accessor(self.params, self.tensors[tensor.0])
    }

    fn scalar(&mut self, _what: &str, value: f32) -> String {
        float(value)
    }

    fn constant(&mut self, _what: &str, values: &[f32]) -> String {
        let values: Vec<String> = values.iter().map(|&v| float(v)).collect();
        format!("[{}]", values.join(", "))
    }

    fn emit(&mut self, op_type: &str, inputs: Vec<String>, attributes: Vec<Attr>) {
        let to = self.output.clone();
        self.assign(to, op_type, &inputs, &attributes);
    }

    fn emit_value(
        &mut self,
        what: &str,
        op_type: &str,
        inputs: Vec<String>,
        attributes: Vec<Attr>,
    ) -> String {
        let to = self
            .names
            .fresh(&identifier(&format!("{}_{what}", self.node_name)));
        self.assign(to.clone(), op_type, &inputs, &attributes);
        to
    }
}

impl Torch for At<'_> {
    fn python(&mut self, code: String) {
        self.lines.push(format!("{} = {code}", self.output));
    }

    fn statement(&mut self, code: String) {
        self.lines.extend(code.lines().map(str::to_owned));
    }
}

fn int(attributes: &[Attr], name: &str) -> Option<i64> {
    attributes.iter().find_map(|a| match a {
        Attr::Int(n, v) if *n == name => Some(*v),
        _ => None,
    })
}

fn ints<'a>(attributes: &'a [Attr], name: &str) -> Option<&'a [i64]> {
    attributes.iter().find_map(|a| match a {
        Attr::Ints(n, v) if *n == name => Some(v.as_slice()),
        _ => None,
    })
}

fn number(attributes: &[Attr], name: &str) -> Option<f32> {
    attributes.iter().find_map(|a| match a {
        Attr::Float(n, v) if *n == name => Some(*v),
        _ => None,
    })
}

/// The Python of one ONNX node: `None` for an operator with no translation here (every
/// operator the ops emit has one; the export test walks every function).
fn expression(op_type: &str, x: &[String], attributes: &[Attr]) -> Option<String> {
    let unary = |f: &str| Some(format!("{f}({})", x[0]));
    let binary = |op: &str| Some(format!("({} {op} {})", x[0], x[1]));
    let axis = int(attributes, "axis");
    match op_type {
        "Identity" => Some(x[0].clone()),
        "Add" => binary("+"),
        "Sub" => binary("-"),
        "Mul" => binary("*"),
        "Div" => binary("/"),
        "Sigmoid" => unary("torch.sigmoid"),
        "Tanh" => unary("torch.tanh"),
        "Relu" => unary("torch.relu"),
        "Exp" => unary("torch.exp"),
        "Log" => unary("torch.log"),
        "Erf" => unary("torch.erf"),
        "HardSwish" => unary("F.hardswish"),
        "LeakyRelu" => Some(format!(
            "F.leaky_relu({}, negative_slope={})",
            x[0],
            float(number(attributes, "alpha").unwrap_or(0.01))
        )),
        "HardSigmoid" => Some(format!(
            "torch.clamp({} * {} + {}, 0.0, 1.0)",
            x[0],
            float(number(attributes, "alpha").unwrap_or(0.2)),
            float(number(attributes, "beta").unwrap_or(0.5))
        )),
        "Softmax" => Some(format!(
            "torch.softmax({}, dim={})",
            x[0],
            axis.unwrap_or(-1)
        )),
        "LogSoftmax" => Some(format!(
            "torch.log_softmax({}, dim={})",
            x[0],
            axis.unwrap_or(-1)
        )),
        "Flatten" => Some(format!("torch.flatten({}, {})", x[0], axis.unwrap_or(1))),
        "Concat" => Some(format!("torch.cat([{}], dim={})", x.join(", "), axis?)),
        "Gemm" if int(attributes, "transB") == Some(1) && x.len() >= 2 => Some(format!(
            "F.linear({}, {}{})",
            x[0],
            x[1],
            x.get(2).map(|b| format!(", {b}")).unwrap_or_default()
        )),
        "Conv" => {
            let strides = ints(attributes, "strides").unwrap_or(&[1, 1]);
            let dilations = ints(attributes, "dilations").unwrap_or(&[1, 1]);
            let groups = int(attributes, "group").unwrap_or(1);
            // ONNX pads: [top, left, bottom, right]. Unequal sides go through F.pad.
            let pads = ints(attributes, "pads").unwrap_or(&[0, 0, 0, 0]);
            let (input, padding) = match *pads {
                [t, l, b, r] if t == b && l == r => (x[0].clone(), (t, l)),
                [t, l, b, r] => (format!("F.pad({}, ({l}, {r}, {t}, {b}))", x[0]), (0, 0)),
                _ => return None,
            };
            let bias = x.get(2).map_or("None", String::as_str);
            Some(format!(
                "F.conv2d({input}, {}, {bias}, stride=({}, {}), padding=({}, {}), dilation=({}, {}), groups={groups})",
                x[1], strides[0], strides[1], padding.0, padding.1, dilations[0], dilations[1]
            ))
        }
        "MaxPool" | "AveragePool" => {
            let kernel = ints(attributes, "kernel_shape")?;
            let strides = ints(attributes, "strides").unwrap_or(kernel);
            let f = if op_type == "MaxPool" {
                "F.max_pool2d"
            } else {
                "F.avg_pool2d"
            };
            // Symmetric pads only; an average counts them (PyTorch's default too).
            let padding = match ints(attributes, "pads") {
                None => (0, 0),
                Some(&[t, l, b, r]) if t == b && l == r => (t, l),
                Some(_) => return None,
            };
            if op_type == "AveragePool"
                && padding != (0, 0)
                && int(attributes, "count_include_pad") != Some(1)
            {
                return None;
            }
            Some(format!(
                "{f}({}, kernel_size=({}, {}), stride=({}, {}), padding=({}, {}))",
                x[0], kernel[0], kernel[1], strides[0], strides[1], padding.0, padding.1
            ))
        }
        "Transpose" => {
            let perm: Vec<String> = ints(attributes, "perm")?
                .iter()
                .map(i64::to_string)
                .collect();
            Some(format!("{}.permute({})", x[0], perm.join(", ")))
        }
        "LayerNormalization" if int(attributes, "axis").unwrap_or(-1) == -1 => Some(format!(
            "F.layer_norm({}, {}.shape, {}, {}, eps={})",
            x[0],
            x[1],
            x[1],
            x[2],
            float(number(attributes, "epsilon").unwrap_or(1e-5))
        )),
        "GlobalAveragePool" => Some(format!("{}.mean(dim=(2, 3), keepdim=True)", x[0])),
        "BatchNormalization" => Some(format!(
            "F.batch_norm({}, {}, {}, {}, {}, training=False, eps={})",
            x[0],
            x[3],
            x[4],
            x[1],
            x[2],
            float(number(attributes, "epsilon").unwrap_or(1e-5))
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{BuildOptions, build_graph};
    use crate::language::Source;
    use crate::rng::Generator;
    use rand::SeedableRng;

    fn exported(body: &str) -> String {
        let source = Source {
            path: "m.nn".into(),
            text: format!("model m {{\n{body}\n loss = cross_entropy\n}}\n"),
        };
        let graph = build_graph(&source, &BuildOptions::default()).unwrap();
        let model = Model::init(&graph, &mut Generator::seed_from_u64(1)).unwrap();
        to_torch(&graph, &model).unwrap()
    }

    #[test]
    fn tensors_are_registered_at_their_names_and_read_as_attributes() {
        let py = exported(
            " x = input(1, 8, 8)\n c = x |> conv2d(4, 3, pad = same) |> batchnorm |> relu\n output = c |> flatten |> dropout(0.5) |> dense(10) |> softmax",
        );
        for line in [
            "_parameter(self, \"c.conv2d.weight\", (4, 1, 3, 3))",
            "_buffer(self, \"c.batchnorm.running_var\", (4,))",
            "_buffer(self, \"c.batchnorm.num_batches_tracked\", (), torch.long)",
            "_parameter(self, \"output.weight\", (10, 256))",
            "self.c.batchnorm.num_batches_tracked.add_(1)",
            "training=self.training, momentum=0.1, eps=1e-5)",
            "F.dropout(output_flatten, p=0.5, training=self.training)",
            "torch.softmax(output_dense, dim=-1)",
            "return output",
            "input_shape = (1, 8, 8)",
        ] {
            assert!(py.contains(line), "missing `{line}` in\n{py}");
        }
    }

    #[test]
    fn a_name_part_that_is_no_identifier_is_reached_by_its_dotted_name() {
        let mut params = Params::new();
        let id = params
            .add("s1.1.weight", Shape::vector(2).unwrap(), vec![0.0; 2])
            .unwrap();
        assert_eq!(accessor(&params, id), "self.get_parameter(\"s1.1.weight\")");
        let ok = params
            .add("h.bias", Shape::vector(2).unwrap(), vec![0.0; 2])
            .unwrap();
        assert_eq!(accessor(&params, ok), "self.h.bias");
        assert_eq!(identifier("output.dense"), "output_dense");
        assert_eq!(identifier("1x"), "_1x");
    }

    #[test]
    fn unequal_padding_goes_through_f_pad() {
        let x = ["x".to_owned(), "w".to_owned()];
        let code = expression(
            "Conv",
            &x,
            &[
                Attr::Ints("pads", vec![0, 0, 1, 1]),
                Attr::Ints("strides", vec![2, 2]),
            ],
        )
        .unwrap();
        assert!(
            code.starts_with(
                "F.conv2d(F.pad(x, (0, 1, 0, 1)), w, None, stride=(2, 2), padding=(0, 0)"
            ),
            "{code}"
        );
        assert_eq!(expression("NoSuchOp", &x, &[]), None);
    }
}
