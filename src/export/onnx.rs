//! ONNX export: a validated [`Graph`] and its trained tensors as an ONNX `ModelProto`
//! (opset [`OPSET`]) that onnxruntime runs.
//!
//! The file has one input, `input`, shaped `[batch, ...]` with `batch` symbolic and the
//! rest the input node's per-sample shape (`[batch, 784]`, `[batch, c, h, w]`), holding the
//! values `nnc` feeds its own input (pixels scaled to `[0, 1]`); and one output, `output`,
//! the value of the model's `output` node (probabilities when it ends in `softmax`).
//!
//! What each graph op becomes is the op's own business ([`Layer::onnx`], in its file
//! under `crate::ops`; every op must have one). Everything here is op-agnostic: value
//! names, initializers in the saved (PyTorch) layout, the graph's input and output, and
//! leaving out nodes the output does not read.

use super::ExportError;
use super::builder::{At, Builder, tensor_value};
use super::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto};
use crate::graph::{Graph, NodeId};
use crate::training::Model;

/// The operator set the file imports: every op below has had its current meaning since
/// at most 17 (`Softmax`/`LogSoftmax` along one axis since 13, `Gemm` with an optional
/// bias since 11), and opset 17 is what PyTorch exports by default.
pub const OPSET: i64 = 17;

/// IR version 8, the one ONNX 1.12 introduced opset 17 with: the oldest that can carry
/// it, so runtimes from then on load the file.
pub const IR_VERSION: i64 = 8;

/// The name of the graph's input, whatever the model calls its `input(...)` binding.
pub const INPUT: &str = "input";

/// The name of the graph's output, the model's `output` node.
pub const OUTPUT: &str = "output";

/// The symbolic batch dimension of the input and the output.
const BATCH: &str = "batch";

/// `graph` with the tensors of `model` (which must have been made for this graph, by
/// [`Model::init`] and then trained or loaded) as an ONNX model.
pub fn to_onnx(graph: &Graph, model: &Model) -> Result<ModelProto, ExportError> {
    let mut builder = Builder::new(&model.params, &[INPUT, OUTPUT]);
    // Values are named after their nodes; the graph's input and output get the names of
    // the contract, which no other value may take.
    let mut values: Vec<String> = Vec::with_capacity(graph.nodes.len());
    let needed = read_by_output(graph);
    for (index, node) in graph.nodes.iter().enumerate() {
        let id = NodeId(index as u32);
        let name = if id == graph.input {
            INPUT.to_owned()
        } else if id == graph.output {
            OUTPUT.to_owned()
        } else {
            builder.values.fresh(&node.name)
        };
        values.push(name);
        if !needed[index] || id == graph.input {
            continue;
        }
        let owned = model
            .node_params
            .get(index)
            .ok_or_else(|| ExportError::Mismatch(format!("no tensors for node `{}`", node.name)))?;
        let specs = graph.node_specs(node);
        if specs.len() != owned.len() {
            return Err(ExportError::Mismatch(format!(
                "node `{}` owns {} tensors, the model has {}",
                node.name,
                specs.len(),
                owned.len()
            )));
        }
        let mut at = At {
            builder: &mut builder,
            node,
            inputs: node
                .inputs
                .iter()
                .map(|i| values[i.index()].clone())
                .collect(),
            input_shapes: graph.input_shapes(node),
            output: values[index].clone(),
            tensors: owned.clone(),
            emitted: 0,
        };
        node.op.onnx(&mut at);
    }
    if graph.output == graph.input {
        // `output = x`: the one case where the output is no node's result.
        builder.nodes.push(NodeProto {
            input: vec![INPUT.to_owned()],
            output: vec![OUTPUT.to_owned()],
            name: Some(OUTPUT.to_owned()),
            op_type: Some("Identity".to_owned()),
            ..NodeProto::default()
        });
    }
    let input_node = graph.node(graph.input);
    let output_node = graph.node(graph.output);
    let onnx_graph = GraphProto {
        name: Some(graph.name.clone()),
        doc_string: Some(format!("the model `{}` of a .nn file", graph.name)),
        input: vec![tensor_value(INPUT, BATCH, input_node.shape)],
        output: vec![tensor_value(OUTPUT, BATCH, output_node.shape)],
        node: builder.nodes,
        initializer: builder.initializers,
        ..GraphProto::default()
    };
    Ok(ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("nnc".to_owned()),
        producer_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        graph: Some(onnx_graph),
        ..ModelProto::default()
    })
}

/// For each graph node, whether the output reads it (directly or through other nodes):
/// only those are exported, so a binding the output never uses costs the file nothing.
pub(super) fn read_by_output(graph: &Graph) -> Vec<bool> {
    let mut needed = vec![false; graph.nodes.len()];
    needed[graph.output.index()] = true;
    // Inputs of a node have smaller ids: one backward sweep reaches everything.
    for index in (0..graph.nodes.len()).rev() {
        if needed[index] {
            for input in &graph.nodes[index].inputs {
                needed[input.index()] = true;
            }
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use crate::rng::Generator;
    use prost::Message;
    use rand::SeedableRng;

    use super::*;
    use crate::export::proto::tensor_shape_proto::dimension;
    use crate::export::proto::{ValueInfoProto, type_proto};
    use crate::graph::{BuildOptions, build_graph};
    use crate::language::Source;
    use crate::ops::{Takes, builtins};

    fn graph(text: &str) -> Graph {
        let source = Source {
            path: "t.nn".into(),
            text: text.into(),
        };
        build_graph(&source, &BuildOptions::default()).unwrap_or_else(|e| panic!("{}", e.rendered))
    }

    /// `text`'s model with fresh tensors, exported, encoded and decoded again.
    fn export(text: &str) -> (Graph, Model, GraphProto) {
        let g = graph(text);
        let model = Model::init(&g, &mut Generator::seed_from_u64(1)).unwrap();
        let bytes = super::super::encode(&to_onnx(&g, &model).unwrap()).unwrap();
        let decoded = ModelProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.ir_version, Some(IR_VERSION));
        assert_eq!(decoded.opset_import[0].version, Some(OPSET));
        (g, model, decoded.graph.unwrap())
    }

    fn ops(graph: &GraphProto) -> Vec<&str> {
        graph.node.iter().map(|n| n.op_type()).collect()
    }

    fn dims(value: &ValueInfoProto) -> Vec<String> {
        let Some(type_proto::Value::TensorType(tensor)) = &value.r#type.as_ref().unwrap().value
        else {
            panic!("{value:?} is not a tensor");
        };
        let shape = tensor.shape.as_ref().unwrap();
        shape
            .dim
            .iter()
            .map(|d| match d.value.as_ref().unwrap() {
                dimension::Value::DimValue(v) => v.to_string(),
                dimension::Value::DimParam(p) => p.clone(),
            })
            .collect()
    }

    #[test]
    fn dense_weights_go_out_in_their_saved_layout_whatever_memory_holds() {
        // 40 units are stored transposed in memory, 3 are not; both leave as [units, n_in].
        let (g, model, onnx) = export(
            "model m {\n x = input(5)\n h = x |> dense(40) |> relu\n output = h |> dense(3, bias = false) |> softmax\n}\n",
        );
        assert_eq!(ops(&onnx), ["Gemm", "Relu", "Gemm", "Softmax"]);
        let params = &model.params;
        let h = params.find("h.weight").unwrap();
        assert!(params.is_transposed(h));
        let tensor = |name: &str| onnx.initializer.iter().find(|t| t.name() == name).unwrap();
        assert_eq!(tensor("h.weight").dims, [40, 5]);
        assert_eq!(tensor("h.weight").float_data, params.saved_values(h));
        assert_ne!(tensor("h.weight").float_data, params.value(h));
        assert_eq!(tensor("h.bias").dims, [40]);
        let out = params.find("output.weight").unwrap();
        assert!(!params.is_transposed(out));
        assert_eq!(tensor("output.weight").dims, [3, 40]);
        assert_eq!(tensor("output.weight").float_data, params.value(out));
        // transB = 1 on each Gemm; the layer without a bias has two operands.
        let gemms: Vec<&NodeProto> = onnx.node.iter().filter(|n| n.op_type() == "Gemm").collect();
        assert_eq!(gemms[0].input, ["input", "h.weight", "h.bias"]);
        assert_eq!(gemms[1].input, ["h", "output.weight"]);
        for gemm in gemms {
            assert_eq!(gemm.attribute[0].name(), "transB");
            assert_eq!(gemm.attribute[0].i, Some(1));
        }
        assert_eq!(onnx.initializer.len(), 3);
        assert_eq!(g.nodes.len(), 5);
    }

    #[test]
    fn the_input_and_output_have_the_contract_names_and_a_symbolic_batch() {
        let (_, _, onnx) =
            export("model m {\n pixels = input(7)\n output = pixels |> dense(2) |> sigmoid\n}\n");
        assert_eq!(onnx.input.len(), 1);
        assert_eq!(onnx.input[0].name(), INPUT);
        assert_eq!(dims(&onnx.input[0]), ["batch", "7"]);
        assert_eq!(onnx.output.len(), 1);
        assert_eq!(onnx.output[0].name(), OUTPUT);
        assert_eq!(dims(&onnx.output[0]), ["batch", "2"]);
        assert_eq!(onnx.node[0].input[0], "input");
        assert_eq!(onnx.node.last().unwrap().output, ["output"]);
    }

    #[test]
    fn names_never_clash_with_the_input_and_output() {
        // A binding called `input` that is not the input, and `output = x`.
        let (_, _, onnx) =
            export("model m {\n x = input(4)\n input = x |> dense(3)\n output = x\n}\n");
        // `input` is not read by the output: left out. The output is the input itself.
        assert_eq!(ops(&onnx), ["Identity"]);
        assert_eq!(onnx.node[0].input, ["input"]);
        assert_eq!(onnx.node[0].output, ["output"]);
        assert!(onnx.initializer.is_empty());
        let (_, _, onnx) = export(
            "model m {\n x = input(4)\n input = x |> dense(3)\n output = input |> tanh\n}\n",
        );
        assert_eq!(ops(&onnx), ["Gemm", "Tanh"]);
        assert_eq!(onnx.node[0].output, ["input_1"]);
        assert_eq!(onnx.node[1].input, ["input_1"]);
    }

    #[test]
    fn number_arithmetic_reads_scalar_constants() {
        let (_, _, onnx) = export("model m {\n x = input(3)\n output = 1 - 2 * x\n}\n");
        assert_eq!(ops(&onnx), ["Mul", "Mul", "Add"]);
        let constants: Vec<(Vec<i64>, Vec<f32>)> = onnx
            .initializer
            .iter()
            .map(|t| (t.dims.clone(), t.float_data.clone()))
            .collect();
        assert_eq!(
            constants,
            [
                (vec![], vec![2.0]),
                (vec![], vec![-1.0]),
                (vec![], vec![1.0])
            ]
        );
    }

    #[test]
    fn every_builtin_exports() {
        // Each row's example after a layer of each shape it takes, then scored: the export
        // succeeds, every node the output reads becomes ONNX nodes, values are defined once.
        let vector = " i = input(4)\n x = i |> dense(4)";
        let image = " i = input(2, 6, 6)\n x = i |> conv2d(2, 3, pad = 1)";
        for builtin in builtins() {
            let contexts = match builtin.takes {
                Takes::Nothing => vec![format!(" x = {}", builtin.example)],
                Takes::Vector => vec![vector.to_owned()],
                Takes::Image => vec![image.to_owned()],
                Takes::Any => vec![vector.to_owned(), image.to_owned()],
            };
            let y = match builtin.takes {
                Takes::Nothing => "x",
                _ => builtin.example,
            };
            for context in contexts {
                let text = format!(
                    "model t {{\n{context}\n y = {y}\n output = y |> flatten |> dense(3) |> softmax\n}}\n"
                );
                let (g, _, onnx) = export(&text);
                let kinds: Vec<&str> = g.nodes.iter().map(|n| n.op.kind()).collect();
                assert!(kinds.contains(&builtin.name), "{text}");
                assert!(
                    onnx.node.len() + 1 >= g.nodes.len(),
                    "{text}: {:?}",
                    ops(&onnx)
                );
                let mut defined: Vec<&str> = onnx
                    .node
                    .iter()
                    .flat_map(|n| &n.output)
                    .map(String::as_str)
                    .collect();
                defined.extend(onnx.initializer.iter().map(|t| t.name()));
                defined.push(INPUT);
                let count = defined.len();
                defined.sort_unstable();
                defined.dedup();
                assert_eq!(defined.len(), count, "{text}: a value defined twice");
            }
        }
    }
}
