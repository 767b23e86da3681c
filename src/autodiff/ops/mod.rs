//! The closed set of tape operations. This file only dispatches: each op's shape rule
//! (the `Tape` method that records it), forward rule and backward rule live together in
//! the file named for its family. Matches here are exhaustive, so a new variant makes the
//! compiler list every place it must be taught.

mod activation;
mod batchnorm;
mod concat;
mod conv;
mod dense;
mod dropout;
mod elementwise;
mod pool;
mod reshape;
mod softmax_xent;
mod standardize;

// The per-sample shape rules, which the graph layer uses too (see `autodiff::shape`).
pub use batchnorm::{BatchNormParams, batchnorm_channels, batchnorm_shape};
pub use concat::concat_shape;
pub use conv::{conv2d_geometry, conv2d_shape};
pub use dense::dense_shape;
pub use elementwise::same_shape;
pub use pool::{Pooling, global_avgpool_shape, pool_shape};
pub use reshape::flatten_shape;
pub use softmax_xent::softmax_shape;

pub use crate::kernels::batchnorm::BatchNorm;
pub use crate::kernels::conv::{Conv2dShape, Padding};
pub use crate::kernels::pooling::PoolShape;

use rand::rngs::StdRng;

use super::tape::Node;
use super::{ParamId, Shape, Var};

/// One recorded operation and its operands.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Filled by the caller before each forward pass.
    Input,
    /// Class indices (stored as exact `f32`), one per row, all below `classes`.
    Labels {
        classes: usize,
    },
    /// A parameter: its value and gradient live in `Params`.
    Param(ParamId),
    /// `op(a)·op(b)`, where `op` transposes when the flag is set.
    MatMul {
        a: Var,
        b: Var,
        trans_a: bool,
        trans_b: bool,
    },
    /// `x + bias`, the bias broadcast over rows.
    BiasAdd {
        x: Var,
        bias: Var,
    },
    Add {
        a: Var,
        b: Var,
    },
    Sub {
        a: Var,
        b: Var,
    },
    Mul {
        a: Var,
        b: Var,
    },
    Scale {
        x: Var,
        alpha: f32,
    },
    AddScalar {
        x: Var,
        c: f32,
    },
    Sum {
        x: Var,
    },
    Mean {
        x: Var,
    },
    Exp {
        x: Var,
    },
    Log {
        x: Var,
    },
    Sigmoid {
        x: Var,
    },
    Tanh {
        x: Var,
    },
    Relu {
        x: Var,
    },
    LeakyRelu {
        x: Var,
        slope: f32,
    },
    Softmax {
        x: Var,
    },
    LogSoftmax {
        x: Var,
    },
    /// Mean over rows of `−Σ target·log softmax(logits)`, from the logits in one stable
    /// step; `target` is a labels node or a matrix of target probabilities (one-hot).
    SoftmaxCrossEntropy {
        logits: Var,
        target: Var,
    },
    /// Inputs `edges[first..first + count]`, joined along the last axis.
    Concat {
        first: u32,
        count: u32,
    },
    /// Inverted dropout with drop probability `p`.
    Dropout {
        x: Var,
        p: f32,
    },
    /// `conv2d(x, weight) + bias` of an image batch.
    Conv2d {
        x: Var,
        weight: Var,
        bias: Option<Var>,
        geometry: Conv2dShape,
    },
    /// Max or average pooling of an image batch.
    Pool {
        x: Var,
        kind: Pooling,
        geometry: PoolShape,
    },
    /// The mean of each channel of an image batch.
    GlobalAvgPool {
        x: Var,
    },
    /// The same values under the node's shape (`flatten`).
    Reshape {
        x: Var,
    },
    /// Batch normalisation: operands `x`, scale and shift; the running statistics are
    /// state it reads at evaluation (see `Tape::update_running_stats`).
    BatchNorm {
        x: Var,
        params: BatchNormParams,
        momentum: f32,
        norm: BatchNorm,
    },
    /// `(x − mean) / std` per feature, the statistics broadcast over rows.
    Standardize {
        x: Var,
        mean: Var,
        std: Var,
    },
}

impl Op {
    /// The operands, in order (a variadic op's come from the tape's edge list).
    pub fn inputs<'a>(&'a self, edges: &'a [Var]) -> impl Iterator<Item = Var> + 'a {
        let (fixed, list): ([Option<Var>; 3], &[Var]) = match *self {
            Op::Input | Op::Labels { .. } | Op::Param(_) => ([None; 3], &[]),
            Op::MatMul { a, b, .. } | Op::Add { a, b } | Op::Sub { a, b } | Op::Mul { a, b } => {
                ([Some(a), Some(b), None], &[])
            }
            Op::BiasAdd { x, bias } => ([Some(x), Some(bias), None], &[]),
            Op::Standardize { x, mean, std } => ([Some(x), Some(mean), Some(std)], &[]),
            Op::SoftmaxCrossEntropy { logits, target } => ([Some(logits), Some(target), None], &[]),
            Op::Scale { x, .. }
            | Op::AddScalar { x, .. }
            | Op::Sum { x }
            | Op::Mean { x }
            | Op::Exp { x }
            | Op::Log { x }
            | Op::Sigmoid { x }
            | Op::Tanh { x }
            | Op::Relu { x }
            | Op::LeakyRelu { x, .. }
            | Op::Softmax { x }
            | Op::LogSoftmax { x }
            | Op::Dropout { x, .. }
            | Op::Pool { x, .. }
            | Op::GlobalAvgPool { x }
            | Op::Reshape { x } => ([Some(x), None, None], &[]),
            Op::Conv2d {
                x, weight, bias, ..
            } => ([Some(x), Some(weight), bias], &[]),
            Op::BatchNorm { x, params, .. } => {
                ([Some(x), Some(params.gamma), Some(params.beta)], &[])
            }
            Op::Concat { first, count } => {
                ([None; 3], &edges[first as usize..(first + count) as usize])
            }
        };
        fixed.into_iter().flatten().chain(list.iter().copied())
    }

    /// A short lowercase name, for errors and per-op timing tables.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Labels { .. } => "labels",
            Op::Param(_) => "param",
            Op::MatMul { .. } => "matmul",
            Op::BiasAdd { .. } => "bias_add",
            Op::Add { .. } => "add",
            Op::Sub { .. } => "sub",
            Op::Mul { .. } => "mul",
            Op::Scale { .. } => "scale",
            Op::AddScalar { .. } => "add_scalar",
            Op::Sum { .. } => "sum",
            Op::Mean { .. } => "mean",
            Op::Exp { .. } => "exp",
            Op::Log { .. } => "log",
            Op::Sigmoid { .. } => "sigmoid",
            Op::Tanh { .. } => "tanh",
            Op::Relu { .. } => "relu",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::Softmax { .. } => "softmax",
            Op::LogSoftmax { .. } => "log_softmax",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
            Op::Concat { .. } => "concat",
            Op::Dropout { .. } => "dropout",
            Op::Conv2d { .. } => "conv2d",
            Op::Pool { kind, .. } => kind.name(),
            Op::GlobalAvgPool { .. } => "global_avgpool",
            Op::Reshape { .. } => "reshape",
            Op::BatchNorm { .. } => "batchnorm",
            Op::Standardize { .. } => "standardize",
        }
    }

    /// Scratch elements the op keeps from forward for backward.
    pub(crate) fn aux_len(&self, shape: Shape, nodes: &[Node]) -> usize {
        match *self {
            // log-probabilities of every logit
            Op::SoftmaxCrossEntropy { logits, .. } => nodes[logits.index()].shape.numel(),
            // the dropout mask
            Op::Dropout { .. } => shape.numel(),
            // the patch matrix, the gathered output gradient, the patches' gradient
            Op::Conv2d { geometry, .. } => conv::conv2d_aux_len(&geometry, shape.dim(0)),
            // batch statistics, sums, the scale's and shift's gradients
            Op::BatchNorm { x, norm, .. } => {
                batchnorm::batchnorm_aux_len(&norm, nodes[x.index()].needs_grad)
            }
            Op::Input
            | Op::Labels { .. }
            | Op::Param(_)
            | Op::MatMul { .. }
            | Op::BiasAdd { .. }
            | Op::Add { .. }
            | Op::Sub { .. }
            | Op::Mul { .. }
            | Op::Scale { .. }
            | Op::AddScalar { .. }
            | Op::Sum { .. }
            | Op::Mean { .. }
            | Op::Exp { .. }
            | Op::Log { .. }
            | Op::Sigmoid { .. }
            | Op::Tanh { .. }
            | Op::Relu { .. }
            | Op::LeakyRelu { .. }
            | Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::Concat { .. }
            | Op::Pool { .. }
            | Op::GlobalAvgPool { .. }
            | Op::Reshape { .. }
            | Op::Standardize { .. } => 0,
        }
    }

    /// Index scratch the op keeps from forward for backward (where each maximum was).
    pub(crate) fn index_len(&self, shape: Shape) -> usize {
        match *self {
            Op::Pool {
                kind: Pooling::Max, ..
            } => shape.numel(),
            Op::Input
            | Op::Labels { .. }
            | Op::Param(_)
            | Op::MatMul { .. }
            | Op::BiasAdd { .. }
            | Op::Add { .. }
            | Op::Sub { .. }
            | Op::Mul { .. }
            | Op::Scale { .. }
            | Op::AddScalar { .. }
            | Op::Sum { .. }
            | Op::Mean { .. }
            | Op::Exp { .. }
            | Op::Log { .. }
            | Op::Sigmoid { .. }
            | Op::Tanh { .. }
            | Op::Relu { .. }
            | Op::LeakyRelu { .. }
            | Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::SoftmaxCrossEntropy { .. }
            | Op::Concat { .. }
            | Op::Dropout { .. }
            | Op::Conv2d { .. }
            | Op::Pool { .. }
            | Op::GlobalAvgPool { .. }
            | Op::Reshape { .. }
            | Op::BatchNorm { .. }
            | Op::Standardize { .. } => 0,
        }
    }

    /// The input whose sign decides which side of a kink the op is on (`relu`'s `x`):
    /// gradient checks step past a kink one-sidedly.
    pub fn kink_input(&self) -> Option<Var> {
        match *self {
            Op::Relu { x } | Op::LeakyRelu { x, .. } => Some(x),
            Op::Input
            | Op::Labels { .. }
            | Op::Param(_)
            | Op::MatMul { .. }
            | Op::BiasAdd { .. }
            | Op::Add { .. }
            | Op::Sub { .. }
            | Op::Mul { .. }
            | Op::Scale { .. }
            | Op::AddScalar { .. }
            | Op::Sum { .. }
            | Op::Mean { .. }
            | Op::Exp { .. }
            | Op::Log { .. }
            | Op::Sigmoid { .. }
            | Op::Tanh { .. }
            | Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::SoftmaxCrossEntropy { .. }
            | Op::Concat { .. }
            | Op::Dropout { .. }
            | Op::Conv2d { .. }
            | Op::Pool { .. }
            | Op::GlobalAvgPool { .. }
            | Op::Reshape { .. }
            | Op::BatchNorm { .. }
            | Op::Standardize { .. } => None,
        }
    }

    pub(crate) fn forward(
        &self,
        cx: &Values<'_>,
        shape: Shape,
        out: &mut [f32],
        scratch: Scratch<'_>,
        rng: &mut StdRng,
        training: bool,
    ) {
        let Scratch { aux, indices } = scratch;
        match *self {
            Op::Input | Op::Labels { .. } | Op::Param(_) => {}
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            } => dense::matmul_forward(cx, a, b, trans_a, trans_b, out),
            Op::BiasAdd { x, bias } => dense::bias_add_forward(cx.get(x), cx.get(bias), out),
            Op::Add { a, b } => elementwise::add_forward(cx.get(a), cx.get(b), out),
            Op::Sub { a, b } => elementwise::sub_forward(cx.get(a), cx.get(b), out),
            Op::Mul { a, b } => elementwise::mul_forward(cx.get(a), cx.get(b), out),
            Op::Scale { x, alpha } => elementwise::scale_forward(alpha, cx.get(x), out),
            Op::AddScalar { x, c } => elementwise::add_scalar_forward(c, cx.get(x), out),
            Op::Sum { x } => elementwise::sum_forward(cx.get(x), out),
            Op::Mean { x } => elementwise::mean_forward(cx.get(x), out),
            Op::Exp { x } => elementwise::exp_forward(cx.get(x), out),
            Op::Log { x } => elementwise::log_forward(cx.get(x), out),
            Op::Sigmoid { x } => activation::sigmoid_forward(cx.get(x), out),
            Op::Tanh { x } => activation::tanh_forward(cx.get(x), out),
            Op::Relu { x } => activation::relu_forward(cx.get(x), out),
            Op::LeakyRelu { x, slope } => activation::leaky_relu_forward(slope, cx.get(x), out),
            Op::Softmax { x } => softmax_xent::softmax_forward(cx.get(x), shape.cols(), out),
            Op::LogSoftmax { x } => softmax_xent::log_softmax_forward(cx.get(x), shape.cols(), out),
            Op::SoftmaxCrossEntropy { logits, target } => {
                softmax_xent::xent_forward(cx, logits, target, out, aux)
            }
            Op::Concat { first, count } => concat::concat_forward(cx, first, count, shape, out),
            Op::Dropout { x, p } => dropout::dropout_forward(p, training, cx.get(x), out, aux, rng),
            Op::Conv2d {
                x,
                weight,
                bias,
                ref geometry,
            } => conv::conv2d_forward_rule(cx, (x, weight, bias), geometry, out, aux),
            Op::Pool {
                x,
                kind,
                ref geometry,
            } => pool::pool_forward(cx, (x, kind, geometry), out, indices),
            Op::GlobalAvgPool { x } => pool::global_avgpool_forward_rule(cx, x, out),
            Op::Reshape { x } => reshape::reshape_forward(cx.get(x), out),
            Op::BatchNorm {
                x,
                ref params,
                ref norm,
                ..
            } => batchnorm::batchnorm_forward(cx, (x, params, norm), training, out, aux),
            Op::Standardize { x, mean, std } => {
                standardize::standardize_forward(cx.get(x), cx.get(mean), cx.get(std), out)
            }
        }
    }

    pub(crate) fn backward(
        &self,
        cx: &Values<'_>,
        shape: Shape,
        out: &[f32],
        grad_out: &[f32],
        scratch: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let Scratch { aux, indices } = scratch;
        match *self {
            Op::Input | Op::Labels { .. } | Op::Param(_) => {}
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            } => dense::matmul_backward(cx, a, b, trans_a, trans_b, grad_out, grads),
            Op::BiasAdd { x, bias } => dense::bias_add_backward(x, bias, grad_out, grads),
            Op::Add { a, b } => elementwise::add_backward(a, b, grad_out, grads),
            Op::Sub { a, b } => elementwise::sub_backward(a, b, grad_out, grads),
            Op::Mul { a, b } => elementwise::mul_backward(cx, a, b, grad_out, grads),
            Op::Scale { x, alpha } => elementwise::scale_backward(alpha, x, grad_out, grads),
            Op::AddScalar { x, .. } => elementwise::add_scalar_backward(x, grad_out, grads),
            Op::Sum { x } => elementwise::sum_backward(x, grad_out, grads),
            Op::Mean { x } => elementwise::mean_backward(x, grad_out, grads),
            Op::Exp { x } => elementwise::exp_backward(x, out, grad_out, grads),
            Op::Log { x } => elementwise::log_backward(cx, x, grad_out, grads),
            Op::Sigmoid { x } => activation::sigmoid_backward(x, out, grad_out, grads),
            Op::Tanh { x } => activation::tanh_backward(x, out, grad_out, grads),
            Op::Relu { x } => activation::relu_backward(cx, x, grad_out, grads),
            Op::LeakyRelu { x, slope } => {
                activation::leaky_relu_backward(cx, slope, x, grad_out, grads)
            }
            Op::Softmax { x } => {
                softmax_xent::softmax_backward(x, out, grad_out, shape.cols(), grads)
            }
            Op::LogSoftmax { x } => {
                softmax_xent::log_softmax_backward(x, out, grad_out, shape.cols(), grads)
            }
            Op::SoftmaxCrossEntropy { logits, target } => {
                softmax_xent::xent_backward(cx, logits, target, grad_out, aux, grads)
            }
            Op::Concat { first, count } => {
                concat::concat_backward(cx, first, count, shape, grad_out, grads)
            }
            Op::Dropout { x, .. } => dropout::dropout_backward(x, grad_out, aux, grads),
            Op::Conv2d {
                x,
                weight,
                bias,
                ref geometry,
            } => conv::conv2d_backward(cx, (x, weight, bias), geometry, grad_out, aux, grads),
            Op::Pool {
                x,
                kind,
                ref geometry,
            } => pool::pool_backward(cx, (x, kind, geometry), grad_out, indices, grads),
            Op::GlobalAvgPool { x } => pool::global_avgpool_backward_rule(cx, x, grad_out, grads),
            Op::Reshape { x } => reshape::reshape_backward(x, grad_out, grads),
            Op::BatchNorm {
                x,
                ref params,
                ref norm,
                ..
            } => batchnorm::batchnorm_backward(cx, (x, params, norm), grad_out, aux, grads),
            Op::Standardize { x, mean, std } => {
                standardize::standardize_backward(cx, (x, mean, std), out, grad_out, grads)
            }
        }
    }
}

impl Op {
    /// The operand whose plain SGD step this op can take inside its backward rule, when
    /// that operand is a parameter nothing else reads (see `Tape::sgd_fusable`): a
    /// product's right operand (a weight) or a bias.
    pub(crate) fn fusable_operand(&self) -> Option<Var> {
        match *self {
            Op::MatMul { b, .. } => Some(b),
            Op::BiasAdd { bias, .. } => Some(bias),
            Op::Input
            | Op::Labels { .. }
            | Op::Param(_)
            | Op::Add { .. }
            | Op::Sub { .. }
            | Op::Mul { .. }
            | Op::Scale { .. }
            | Op::AddScalar { .. }
            | Op::Sum { .. }
            | Op::Mean { .. }
            | Op::Exp { .. }
            | Op::Log { .. }
            | Op::Sigmoid { .. }
            | Op::Tanh { .. }
            | Op::Relu { .. }
            | Op::LeakyRelu { .. }
            | Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::SoftmaxCrossEntropy { .. }
            | Op::Concat { .. }
            | Op::Dropout { .. }
            | Op::Conv2d { .. }
            | Op::Pool { .. }
            | Op::GlobalAvgPool { .. }
            | Op::Reshape { .. }
            | Op::BatchNorm { .. }
            | Op::Standardize { .. } => None,
        }
    }

    /// The fused SGD step of [`Op::fusable_operand`], `w ← w − lr·∂L/∂w`, computed from
    /// `∂L/∂output` straight into the parameter by the same function the backward rule
    /// uses for that operand's gradient (with `α = −lr` instead of 1).
    pub(crate) fn apply_sgd(
        &self,
        values: &[Vec<f32>],
        nodes: &[Node],
        grad_out: &[f32],
        lr: f32,
        weight: &mut [f32],
    ) {
        match *self {
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            } => dense::matmul_param_grad(
                values,
                nodes,
                (a, b, trans_a, trans_b),
                grad_out,
                -lr,
                weight,
            ),
            Op::BiasAdd { .. } => dense::bias_grad(grad_out, -lr, weight),
            _ => unreachable!("`fusable_operand` names only products and biases"),
        }
    }
}

/// What a node keeps from forward for backward: floats (probabilities, masks, patches)
/// and indices (where each maximum was).
pub(crate) struct Scratch<'a> {
    pub(crate) aux: &'a mut [f32],
    pub(crate) indices: &'a mut [u32],
}

/// Read access to every value a rule may need: earlier nodes' and the parameters'.
pub(crate) struct Values<'a> {
    pub(crate) values: &'a [Vec<f32>],
    pub(crate) params: &'a [Vec<f32>],
    pub(crate) nodes: &'a [Node],
    pub(crate) edges: &'a [Var],
}

impl Values<'_> {
    pub(crate) fn get(&self, var: Var) -> &[f32] {
        match self.nodes[var.index()].op {
            Op::Param(id) => &self.params[id.index()],
            _ => &self.values[var.index()],
        }
    }

    pub(crate) fn shape(&self, var: Var) -> Shape {
        self.nodes[var.index()].shape
    }
}

/// Write access to the gradients of earlier nodes and of the parameters. Rules update
/// one input at a time, so `x + x` correctly receives twice the gradient.
pub(crate) struct Grads<'a> {
    pub(crate) nodes: &'a mut [Vec<f32>],
    pub(crate) params: &'a mut [Vec<f32>],
    pub(crate) tape: &'a [Node],
    /// Fused SGD: parameters get no gradient here; `Op::apply_sgd` updates them instead,
    /// after the rule has read them for its other operand.
    pub(crate) skip_params: bool,
}

impl Grads<'_> {
    /// The gradient buffer of `var`, or `None` when no parameter is upstream of it (its
    /// gradient would be thrown away, so rules skip the work).
    pub(crate) fn get_mut(&mut self, var: Var) -> Option<&mut [f32]> {
        let node = &self.tape[var.index()];
        if !node.needs_grad {
            return None;
        }
        match node.op {
            Op::Param(_) if self.skip_params => None,
            Op::Param(id) => Some(&mut self.params[id.index()]),
            _ => Some(&mut self.nodes[var.index()]),
        }
    }
}
