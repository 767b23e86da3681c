//! The tensors an operation owns: how each is declared ([`ParamSpec`]), drawn ([`Init`],
//! [`Fill`]) and found again by name. An operation with tensors declares them once, in a
//! function that returns its own struct of named fields (`weight`, `bias`) for whatever
//! a [`Declare`] sink makes of each declaration: the specs to allocate, the tape's
//! parameter nodes, ONNX initializers, the trained values. The order of the file's
//! tensors is that function's order, so no caller relies on a position.

use crate::rng::Generator;
use rand::Rng;

use crate::autodiff::{ParamId, Shape, TapeError};

/// How a layer's weights are drawn, by the layer's fan-in and fan-out (a dense layer's
/// `n_in` and `units`). Biases start at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Glorot/Xavier uniform: `U(±sqrt(6 / (fan_in + fan_out)))`.
    Xavier,
    /// He normal: `N(0, 2 / fan_in)`.
    He,
    /// `U(±1/sqrt(fan_in))`, as PyTorch's `nn.Linear`.
    Uniform,
    /// `N(0, 1/fan_in)`.
    Normal,
}

impl Init {
    /// Every initialiser, by the name the language gives it.
    pub const NAMES: [(&'static str, Init); 4] = [
        ("xavier", Init::Xavier),
        ("he", Init::He),
        ("uniform", Init::Uniform),
        ("normal", Init::Normal),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Init::Xavier => "xavier",
            Init::He => "he",
            Init::Uniform => "uniform",
            Init::Normal => "normal",
        }
    }

    /// `count` initial weights of a layer with `fan_in` inputs and `fan_out` outputs per
    /// weight (a dense layer's `n_in` and `units`).
    pub fn draw(
        self,
        fan_in: usize,
        fan_out: usize,
        count: usize,
        rng: &mut Generator,
    ) -> Vec<f32> {
        let fan_in = fan_in.max(1) as f32;
        match self {
            Init::Xavier => uniform((6.0 / (fan_in + fan_out as f32)).sqrt(), count, rng),
            Init::Uniform => uniform(1.0 / fan_in.sqrt(), count, rng),
            Init::He => normal((2.0 / fan_in).sqrt(), count, rng),
            Init::Normal => normal((1.0 / fan_in).sqrt(), count, rng),
        }
    }
}

fn uniform(limit: f32, count: usize, rng: &mut Generator) -> Vec<f32> {
    (0..count)
        .map(|_| rng.random_range(-limit..=limit))
        .collect()
}

/// Normal samples by the Box–Muller transform (two per pair of uniforms).
fn normal(std_dev: f32, count: usize, rng: &mut Generator) -> Vec<f32> {
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
        let u2: f64 = rng.random();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        out.push((radius * angle.cos()) as f32 * std_dev);
        out.push((radius * angle.sin()) as f32 * std_dev);
    }
    out.truncate(count);
    out
}

/// A weighted layer's initialiser: the one written, or the builder's default (Xavier,
/// or what the layer it feeds prefers, see `Layer::init_for_inputs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitChoice {
    pub init: Init,
    /// Written in the file: the builder leaves it alone.
    pub given: bool,
}

impl InitChoice {
    /// The initialiser a call wrote, or Xavier until the builder decides.
    pub fn from_call(written: Option<Init>) -> Self {
        InitChoice {
            init: written.unwrap_or(Init::Xavier),
            given: written.is_some(),
        }
    }
}

/// One tensor a node owns, declared by its op; the lowering allocates and draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// The tensor's name after the node's prefix: `weight`, `bias`, `running_mean`.
    pub suffix: &'static str,
    /// The shape it is saved with (PyTorch's layout).
    pub shape: Shape,
    pub fill: Fill,
    pub role: Role,
    /// Kept in memory as the transpose of `shape` (a matrix), for the kernels' sake.
    pub stored_transposed: bool,
    /// A count (a whole number of batches), saved as a 64-bit integer as PyTorch does.
    pub count: bool,
    /// A weight that `weight_decay` penalises (not a bias or a batch-norm parameter).
    pub decays: bool,
}

/// A tensor's initial values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// Drawn from the seeded generator by `init`, scaled by the layer's fan-in and fan-out.
    Draw {
        init: Init,
        fan_in: usize,
        fan_out: usize,
    },
    Zeros,
    Ones,
}

impl Fill {
    /// `count` initial values.
    pub fn values(self, count: usize, rng: &mut Generator) -> Vec<f32> {
        match self {
            Fill::Draw {
                init,
                fan_in,
                fan_out,
            } => init.draw(fan_in, fan_out, count, rng),
            Fill::Zeros => vec![0.0; count],
            Fill::Ones => vec![1.0; count],
        }
    }
}

/// Whether the optimizer trains a tensor or the op maintains it (a running statistic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Trained, counted as a parameter, gradient-checked.
    Trainable,
    /// Saved and loaded with the weights; never optimised, counted or gradient-checked.
    Buffer,
}

impl ParamSpec {
    pub fn trainable(suffix: &'static str, shape: Shape, fill: Fill) -> Self {
        ParamSpec {
            suffix,
            shape,
            fill,
            role: Role::Trainable,
            stored_transposed: false,
            count: false,
            decays: false,
        }
    }

    /// A layer's weight: trained, and penalised by `weight_decay`.
    pub fn weight(shape: Shape, fill: Fill) -> Self {
        ParamSpec {
            decays: true,
            ..ParamSpec::trainable("weight", shape, fill)
        }
    }

    /// A bias of `n` values, starting at zero.
    pub fn bias(n: usize) -> Result<Self, TapeError> {
        Ok(ParamSpec::trainable("bias", Shape::vector(n)?, Fill::Zeros))
    }

    pub fn buffer(suffix: &'static str, shape: Shape, fill: Fill) -> Self {
        ParamSpec {
            role: Role::Buffer,
            ..ParamSpec::trainable(suffix, shape, fill)
        }
    }
}

/// An op that owns tensors, declared once, in [`Tensors::declare`], as its own struct of
/// named fields.
pub trait Tensors {
    /// The op's struct of its tensors, each whatever a [`Declare`] sink made of it.
    type Named<T>;

    /// Declares every tensor, in the order they are drawn and saved.
    fn declare<T>(
        &self,
        inputs: &[Shape],
        sink: &mut impl Declare<T>,
    ) -> Result<Self::Named<T>, TapeError>;

    /// The declarations themselves.
    fn specs(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        let mut specs = SpecList::default();
        self.declare(inputs, &mut specs)?;
        Ok(specs.0)
    }

    /// The tensors as references for an ONNX translation (the graph was validated, so
    /// each fits in memory).
    fn onnx_tensors(&self, at: &dyn super::Onnx) -> Self::Named<super::TensorRef> {
        self.declare(&at.input_shapes(), &mut super::onnx::Positions::default())
            .expect("validation checked every tensor's size")
    }
}

/// The tensors of a layer with a weight and an optional bias (`dense`, `conv2d`).
pub struct WeightAndBias<T> {
    pub weight: T,
    pub bias: Option<T>,
}

impl<T> WeightAndBias<T> {
    /// Declares `weight`, then a bias of `bias` values (zeros) when the layer has one.
    pub fn declare(
        weight: ParamSpec,
        bias: Option<usize>,
        tensors: &mut impl Declare<T>,
    ) -> Result<Self, TapeError> {
        Ok(WeightAndBias {
            weight: tensors.tensor(weight)?,
            bias: match bias {
                Some(n) => Some(tensors.tensor(ParamSpec::bias(n)?)?),
                None => None,
            },
        })
    }
}

/// What an op's declaration of its tensors is turned into, one declaration at a time.
pub trait Declare<T> {
    fn tensor(&mut self, spec: ParamSpec) -> Result<T, TapeError>;
}

/// The declarations themselves, in order.
#[derive(Debug, Default)]
pub struct SpecList(pub Vec<ParamSpec>);

impl Declare<()> for SpecList {
    fn tensor(&mut self, spec: ParamSpec) -> Result<(), TapeError> {
        self.0.push(spec);
        Ok(())
    }
}

/// The parameters a node was given for its declarations (`Model::node_params`), one per
/// declaration in order.
#[derive(Debug)]
pub struct Owned<'a> {
    ids: std::slice::Iter<'a, ParamId>,
}

impl<'a> Owned<'a> {
    pub fn new(ids: &'a [ParamId]) -> Self {
        Owned { ids: ids.iter() }
    }
}

impl Declare<ParamId> for Owned<'_> {
    fn tensor(&mut self, spec: ParamSpec) -> Result<ParamId, TapeError> {
        self.ids.next().copied().ok_or_else(|| TapeError::Invalid {
            op: "tensors",
            why: format!("no parameter was allocated for `{}`", spec.suffix),
        })
    }
}
