//! `dense(x, units)`: a fully connected layer `y = x·Wᵀ + b` with `W: [units, n_in]`,
//! recorded as a `matmul` by the weight and a `bias_add`.

use super::function::{X, param};
use super::tensors::Tensors;
use super::{
    ArgKind, Attr, Builtin, Declare, Default, Fill, InitChoice, Layer, Lowering, Onnx,
    ParamSpec, Takes, WeightAndBias,
};
use crate::autodiff::{Shape, ShapeError, TapeError, Var, describe_shape};

pub const FUNCTIONS: &[Builtin] = &[Builtin {
    name: "dense",
    params: &[
        X,
        param("units", ArgKind::Size, Default::Required),
        param("bias", ArgKind::Bool, Default::Bool(true)),
        param("init", ArgKind::Init, Default::Auto),
    ],
    help: "a fully connected layer `x·Wᵀ + b` of `units` outputs",
    activation: false,
    takes: Takes::Vector,
    example: "x |> dense(3)",
    build: |args| {
        Ok(Box::new(Dense {
            units: args.size("units"),
            bias: args.boolean("bias"),
            init: InitChoice::from_call(args.init("init")),
        }))
    },
}];

#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub units: usize,
    pub bias: bool,
    pub init: InitChoice,
}

/// Dense layers with at least this many units keep their weights transposed in memory,
/// `[n_in, units]`: at batch 1 the product and the update then read one contiguous row
/// per nonzero input. Narrow ones (an output of 10 classes) keep the saved layout, where a
/// product is `units` dot products of length `n_in`.
const TRANSPOSE_FROM_UNITS: usize = 32;

impl Tensors for Dense {
    type Named<T> = WeightAndBias<T>;

    /// The weight `[units, n_in]`, then the bias if the layer has one.
    fn declare<T>(
        &self,
        inputs: &[Shape],
        tensors: &mut impl Declare<T>,
    ) -> Result<Self::Named<T>, TapeError> {
        let n_in = inputs[0].numel();
        let fill = Fill::Draw {
            init: self.init.init,
            fan_in: n_in,
            fan_out: self.units,
        };
        let mut weight = ParamSpec::weight(Shape::matrix(self.units, n_in)?, fill);
        weight.stored_transposed = self.units >= TRANSPOSE_FROM_UNITS;
        WeightAndBias::declare(weight, self.bias.then_some(self.units), tensors)
    }
}

impl Layer for Dense {
    fn kind(&self) -> &'static str {
        "dense"
    }

    fn describe(&self) -> String {
        let bias = if self.bias { "" } else { ", bias = false" };
        format!(
            "dense({}{bias}, init = {})",
            self.units,
            self.init.init.name()
        )
    }

    /// A vector `[n_in]` becomes `[units]`.
    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        let x = inputs[0];
        if !x.is_vector() {
            return Err(ShapeError::new(
                format!("`dense` takes a vector, found {}", describe_shape(x)),
                "not a vector",
            )
            .with_help("flatten the image first: `x |> flatten |> dense(...)`"));
        }
        Shape::vector(self.units).map_err(|e| ShapeError::new(e.to_string(), "too large"))
    }

    fn tensors(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        self.specs(inputs)
    }

    /// `2·n_in·units (+ units)`.
    fn flops(&self, inputs: &[Shape], _output: Shape) -> u64 {
        let (n_in, units) = (inputs[0].numel() as u64, self.units as u64);
        2 * n_in * units + if self.bias { units } else { 0 }
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let x = at.x();
        let t = at.tensors(|shapes, tensors| self.declare(shapes, tensors))?;
        let y = if at.params.is_transposed(t.weight.id) {
            at.tape.matmul(x, t.weight.var)? // x·Wᵀ, with Wᵀ stored
        } else {
            at.tape.matmul_nt(x, t.weight.var)?
        };
        match t.bias {
            Some(bias) => at.tape.bias_add(y, bias.var),
            None => Ok(y),
        }
    }

    /// `Gemm` with `transB` reads `W` as saved, `[units, n_in]`.
    fn onnx(&self, at: &mut dyn Onnx) {
        let t = self.onnx_tensors(at);
        let mut inputs = vec![at.input(0), at.tensor(t.weight)];
        if let Some(bias) = t.bias {
            inputs.push(at.tensor(bias));
        }
        at.emit("Gemm", inputs, vec![Attr::Int("transB", 1)]);
    }

    fn weight_init(&mut self) -> Option<&mut InitChoice> {
        Some(&mut self.init)
    }
}
