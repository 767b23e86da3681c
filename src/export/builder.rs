//! The ONNX graph under construction, for `onnx.rs`'s translations: the nodes and
//! initializers so far, unique names for values and nodes, and [`At`], what one graph
//! node's translation sees (its operands, the name its result takes, its tensors in the
//! saved layout). Knows ONNX's messages, not which op becomes what.

use std::collections::HashSet;

use super::proto::attribute_proto::AttributeType;
use super::proto::tensor_proto::DataType;
use super::proto::tensor_shape_proto::{Dimension, dimension};
use super::proto::type_proto;
use super::proto::{
    AttributeProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::autodiff::{ParamId, Params, Shape};
use crate::graph::Node;
use crate::ops::{Attr, Onnx, TensorRef};

/// The ONNX graph under construction: its nodes and initializers, and the names taken.
pub(super) struct Builder<'a> {
    params: &'a Params,
    pub(super) nodes: Vec<NodeProto>,
    pub(super) initializers: Vec<TensorProto>,
    /// Names of values (node results, initializers, the graph's input and output).
    pub(super) values: Names,
    /// Names of nodes, a namespace of their own in ONNX.
    node_names: Names,
}

impl<'a> Builder<'a> {
    /// An empty graph reading tensors from `params`, where no value but the graph's own
    /// input and output may be called `reserved`.
    pub(super) fn new(params: &'a Params, reserved: &[&str]) -> Self {
        Builder {
            params,
            nodes: Vec::new(),
            initializers: Vec::new(),
            values: Names::reserving(reserved),
            node_names: Names::reserving(&[]),
        }
    }
}

/// The graph node being translated: its operands' value names, the name its result must
/// take, and the tensors it owns, in the order its op declares them.
pub(super) struct At<'b, 'a> {
    pub(super) builder: &'b mut Builder<'a>,
    pub(super) node: &'a Node,
    pub(super) inputs: Vec<String>,
    /// The operands' per-sample shapes.
    pub(super) input_shapes: Vec<Shape>,
    pub(super) output: String,
    pub(super) tensors: Vec<ParamId>,
    /// ONNX nodes emitted for this graph node so far.
    pub(super) emitted: usize,
}

impl Onnx for At<'_, '_> {
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
        // `to_onnx` checked that the node owns as many tensors as its op declares.
        let id = self.tensors[tensor.0];
        let params = self.builder.params;
        let name = self.builder.values.fresh(params.name(id));
        let dims = params.saved_shape(id).dims();
        self.builder
            .initializers
            .push(float_tensor(&name, &dims, params.saved_values(id)));
        name
    }

    fn scalar(&mut self, what: &str, value: f32) -> String {
        let name = self
            .builder
            .values
            .fresh(&format!("{}.{what}", self.node.name));
        self.builder
            .initializers
            .push(float_tensor(&name, &[], vec![value]));
        name
    }

    fn constant(&mut self, what: &str, values: &[f32]) -> String {
        let name = self
            .builder
            .values
            .fresh(&format!("{}.{what}", self.node.name));
        self.builder
            .initializers
            .push(float_tensor(&name, &[values.len()], values.to_vec()));
        name
    }

    fn emit(&mut self, op_type: &str, inputs: Vec<String>, attributes: Vec<Attr>) {
        let output = self.output.clone();
        self.emit_to(output, op_type, inputs, attributes);
    }

    fn emit_value(
        &mut self,
        what: &str,
        op_type: &str,
        inputs: Vec<String>,
        attributes: Vec<Attr>,
    ) -> String {
        let name = self
            .builder
            .values
            .fresh(&format!("{}.{what}", self.node.name));
        self.emit_to(name.clone(), op_type, inputs, attributes);
        name
    }
}

impl At<'_, '_> {
    fn emit_to(
        &mut self,
        output: String,
        op_type: &str,
        inputs: Vec<String>,
        attributes: Vec<Attr>,
    ) {
        let attribute = attributes.into_iter().map(attribute).collect();
        let base = match self.emitted {
            0 => self.node.name.clone(),
            n => format!("{}.{n}", self.node.name),
        };
        self.emitted += 1;
        self.builder.nodes.push(NodeProto {
            input: inputs,
            output: vec![output],
            name: Some(self.builder.node_names.fresh(&base)),
            op_type: Some(op_type.to_owned()),
            attribute,
            doc_string: Some(self.node.op.describe()),
            ..NodeProto::default()
        });
    }
}

/// Names handed out so far: each name once, a clash getting `_1`, `_2`, ...
pub(super) struct Names(HashSet<String>);

impl Names {
    pub(super) fn reserving(names: &[&str]) -> Self {
        Names(names.iter().map(|&n| n.to_owned()).collect())
    }

    /// `base` if it is free, else the first free `{base}_{k}`.
    pub(super) fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut k = 0;
        while self.0.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.0.insert(name.clone());
        name
    }
}

/// A `float` tensor of `dims` (row-major `values`).
pub(super) fn float_tensor(name: &str, dims: &[usize], values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: Some(name.to_owned()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(DataType::Float as i32),
        float_data: values,
        ..TensorProto::default()
    }
}

/// A graph input or output: `float`, `[batch, ...per_sample]` with the symbolic dimension
/// `batch` first.
pub(super) fn tensor_value(name: &str, batch: &str, per_sample: Shape) -> ValueInfoProto {
    let batch = Dimension {
        value: Some(dimension::Value::DimParam(batch.to_owned())),
        ..Dimension::default()
    };
    let dims = per_sample.dims().into_iter().map(|d| Dimension {
        value: Some(dimension::Value::DimValue(d as i64)),
        ..Dimension::default()
    });
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: std::iter::once(batch).chain(dims).collect(),
                }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

/// An op's attribute as ONNX writes it.
fn attribute(attr: Attr) -> AttributeProto {
    match attr {
        Attr::Int(name, value) => int(name, value),
        Attr::Ints(name, values) => ints(name, &values),
        Attr::Float(name, value) => float(name, value),
        Attr::Str(name, value) => AttributeProto {
            name: Some(name.to_owned()),
            r#type: Some(AttributeType::String as i32),
            s: Some(value.as_bytes().to_vec()),
            ..AttributeProto::default()
        },
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..AttributeProto::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..AttributeProto::default()
    }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(value),
        ..AttributeProto::default()
    }
}
