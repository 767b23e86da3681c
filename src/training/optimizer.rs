//! Optimizers: SGD with momentum and Adam. State is allocated once, at construction; a
//! step updates every parameter from its gradient and zeroes the gradient.

use crate::autodiff::{Params, Tape, Var};
use crate::graph;
use crate::kernels::simd;

/// An optimizer with its per-parameter state.
#[derive(Debug, Clone)]
pub enum Optimizer {
    /// `v ← μ·v + g; w ← w − lr·v` (plain SGD when `μ = 0`, with no state).
    Sgd {
        lr: f32,
        momentum: f32,
        velocity: Vec<Vec<f32>>,
        /// `g ← g + λ·w` for every decaying weight, before the momentum (PyTorch's SGD).
        weight_decay: f32,
    },
    /// Adam with bias correction (Kingma & Ba, 2015).
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        m: Vec<Vec<f32>>,
        v: Vec<Vec<f32>>,
        t: i32,
        /// Decoupled (AdamW): `w ← w·(1 − lr·λ)` for every decaying weight, then the step.
        weight_decay: f32,
    },
}

impl Optimizer {
    pub fn new(settings: graph::OptimizerSettings, params: &Params) -> Self {
        let zeros = || {
            params
                .ids()
                .map(|id| vec![0.0; params.value(id).len()])
                .collect::<Vec<_>>()
        };
        match settings {
            graph::OptimizerSettings::Sgd { lr, momentum } => Optimizer::Sgd {
                lr,
                momentum,
                velocity: if momentum == 0.0 { Vec::new() } else { zeros() },
                weight_decay: 0.0,
            },
            graph::OptimizerSettings::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                m: zeros(),
                v: zeros(),
                t: 0,
                weight_decay: 0.0,
            },
        }
    }

    /// With an L2 penalty `λ` on every decaying weight (see the variants for how).
    pub fn with_weight_decay(mut self, lambda: f32) -> Self {
        match &mut self {
            Optimizer::Sgd { weight_decay, .. } | Optimizer::Adam { weight_decay, .. } => {
                *weight_decay = lambda;
            }
        }
        self
    }

    /// The per-parameter state by name (`velocity`; Adam's `m` and `v`), one buffer per
    /// parameter in [`Params::ids`] order, for a checkpoint to keep.
    pub fn buffers(&self) -> Vec<(&'static str, &[Vec<f32>])> {
        match self {
            Optimizer::Sgd { velocity, .. } if velocity.is_empty() => Vec::new(),
            Optimizer::Sgd { velocity, .. } => vec![("velocity", velocity)],
            Optimizer::Adam { m, v, .. } => vec![("m", m), ("v", v)],
        }
    }

    /// [`Optimizer::buffers`], to restore.
    pub fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Vec<Vec<f32>>)> {
        match self {
            Optimizer::Sgd { velocity, .. } if velocity.is_empty() => Vec::new(),
            Optimizer::Sgd { velocity, .. } => vec![("velocity", velocity)],
            Optimizer::Adam { m, v, .. } => vec![("m", m), ("v", v)],
        }
    }

    /// Adam's count of steps taken (its bias correction's `t`); 0 for SGD, which has none.
    pub fn steps_taken(&self) -> i32 {
        match self {
            Optimizer::Sgd { .. } => 0,
            Optimizer::Adam { t, .. } => *t,
        }
    }

    /// Sets Adam's count of steps taken (a checkpoint's); SGD has none to set.
    pub fn set_steps_taken(&mut self, steps: i32) {
        if let Optimizer::Adam { t, .. } = self {
            *t = steps;
        }
    }

    /// The learning rate, for messages.
    pub fn lr(&self) -> f32 {
        match self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => *lr,
        }
    }

    /// Sets the learning rate (for a schedule); the other state is kept.
    pub fn set_lr(&mut self, new_lr: f32) {
        match self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => *lr = new_lr,
        }
    }

    /// Sends the loss's gradient back through `tape` and updates `params`. Plain SGD on a
    /// tape where every parameter has a single matmul or bias consumer is fused into the
    /// backward pass ([`Tape::backward_sgd`]): no gradient buffer is written, read or
    /// cleared, which at batch 1 is most of the memory traffic of a step.
    pub fn backward_and_step(&mut self, tape: &mut Tape, loss: Var, params: &mut Params) {
        if let Some(lr) = self.fused_lr(tape)
            && tape.backward_sgd(loss, params, lr)
        {
            return;
        }
        tape.backward(loss, params);
        self.step(params);
    }

    /// The learning rate to fuse into `tape`'s backward pass, when this is plain SGD and the
    /// tape allows it.
    pub fn fused_lr(&self, tape: &Tape) -> Option<f32> {
        match *self {
            Optimizer::Sgd {
                lr,
                momentum,
                weight_decay,
                ..
            } if momentum == 0.0 && weight_decay == 0.0 && tape.sgd_fusable() => Some(lr),
            _ => None,
        }
    }

    /// Applies one update from the accumulated gradients, then zeroes them.
    pub fn step(&mut self, params: &mut Params) {
        match self {
            Optimizer::Sgd {
                lr,
                momentum,
                velocity,
                weight_decay,
            } => {
                for id in params.ids() {
                    if !params.is_trainable(id) {
                        continue; // a buffer: its op maintains it
                    }
                    let decays = *weight_decay != 0.0 && params.decays(id);
                    let (w, g) = params.value_and_grad_mut(id);
                    if decays {
                        simd::axpy(*weight_decay, w, g);
                    }
                    if *momentum == 0.0 {
                        simd::axpy(-*lr, g, w);
                    } else {
                        let v = &mut velocity[id.index()];
                        v.iter_mut()
                            .zip(g.iter())
                            .for_each(|(v, g)| *v = *momentum * *v + g);
                        simd::axpy(-*lr, v, w);
                    }
                    g.fill(0.0);
                }
            }
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
                m,
                v,
                t,
                weight_decay,
            } => {
                *t = t.saturating_add(1);
                let correction1 = 1.0 - beta1.powi(*t);
                let correction2 = 1.0 - beta2.powi(*t);
                let step = *lr * correction2.sqrt() / correction1;
                let eps_hat = *eps * correction2.sqrt();
                for id in params.ids() {
                    if !params.is_trainable(id) {
                        continue;
                    }
                    let decays = *weight_decay != 0.0 && params.decays(id);
                    let (w, g) = params.value_and_grad_mut(id);
                    if decays {
                        let keep = 1.0 - *lr * *weight_decay;
                        w.iter_mut().for_each(|w| *w *= keep);
                    }
                    let (m, v) = (&mut m[id.index()], &mut v[id.index()]);
                    for (((w, g), m), v) in w
                        .iter_mut()
                        .zip(g.iter_mut())
                        .zip(m.iter_mut())
                        .zip(v.iter_mut())
                    {
                        *m = *beta1 * *m + (1.0 - *beta1) * *g;
                        *v = *beta2 * *v + (1.0 - *beta2) * *g * *g;
                        *w -= step * *m / (v.sqrt() + eps_hat);
                        *g = 0.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::Shape;

    /// A decaying weight and a bias, both 1 with no gradient, after one step with
    /// `weight_decay = 0.1` and `lr = 0.5`.
    fn after_one_decayed_step(settings: graph::OptimizerSettings) -> (f32, f32) {
        let mut params = Params::new();
        let w = params
            .add("w", Shape::vector(1).unwrap(), vec![1.0])
            .unwrap();
        let b = params
            .add("b", Shape::vector(1).unwrap(), vec![1.0])
            .unwrap();
        params.set_decays(w);
        let mut optimizer = Optimizer::new(settings, &params).with_weight_decay(0.1);
        optimizer.step(&mut params);
        (params.value(w)[0], params.value(b)[0])
    }

    #[test]
    fn weight_decay_shrinks_weights_only() {
        // SGD: g = 0 + 0.1·1, w = 1 − 0.5·0.1.
        let sgd = graph::OptimizerSettings::Sgd {
            lr: 0.5,
            momentum: 0.9,
        };
        assert_eq!(after_one_decayed_step(sgd), (0.95, 1.0));
        // AdamW: w·(1 − 0.5·0.1), then an Adam step of a zero gradient (none).
        let adam = graph::OptimizerSettings::Adam {
            lr: 0.5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        };
        assert_eq!(after_one_decayed_step(adam), (0.95, 1.0));
    }

    fn one_param(value: f32, grad: f32) -> Params {
        let mut params = Params::new();
        let id = params
            .add("w", Shape::vector(1).unwrap(), vec![value])
            .unwrap();
        params.value_and_grad_mut(id).1[0] = grad;
        params
    }

    fn plain_sgd(lr: f32) -> graph::OptimizerSettings {
        graph::OptimizerSettings::Sgd { lr, momentum: 0.0 }
    }

    #[test]
    fn sgd_steps_against_the_gradient_and_zeroes_it() {
        let mut params = one_param(1.0, 2.0);
        let mut opt = Optimizer::new(plain_sgd(0.1), &params);
        opt.step(&mut params);
        let id = params.find("w").unwrap();
        assert!((params.value(id)[0] - 0.8).abs() < 1e-7);
        assert_eq!(params.grad(id), &[0.0]);
    }

    #[test]
    fn set_lr_changes_the_next_step_only() {
        let mut params = one_param(1.0, 2.0);
        let mut opt = Optimizer::new(plain_sgd(0.1), &params);
        opt.set_lr(0.05);
        assert_eq!(opt.lr(), 0.05);
        opt.step(&mut params);
        let id = params.find("w").unwrap();
        assert!(
            (params.value(id)[0] - 0.9).abs() < 1e-7,
            "{}",
            params.value(id)[0]
        );
    }

    #[test]
    fn momentum_accumulates_velocity() {
        let mut params = one_param(0.0, 1.0);
        let mut opt = Optimizer::new(
            graph::OptimizerSettings::Sgd {
                lr: 1.0,
                momentum: 0.5,
            },
            &params,
        );
        opt.step(&mut params);
        let id = params.find("w").unwrap();
        params.value_and_grad_mut(id).1[0] = 1.0;
        opt.step(&mut params);
        // v1 = 1, w1 = −1; v2 = 0.5 + 1 = 1.5, w2 = −2.5
        assert_eq!(params.value(id)[0], -2.5);
    }

    #[test]
    fn fused_sgd_matches_backward_then_step() {
        use crate::graph::lower::Network;
        use crate::graph::{BuildOptions, build_graph};
        use crate::language::Source;
        use rand::SeedableRng;
        let text = "model m {\n x = input(12)\n h = x |> dense(9) |> tanh\n output = h |> dense(3, bias = false) |> softmax\n loss = cross_entropy\n}\n";
        let graph = build_graph(
            &Source {
                path: "m.nn".into(),
                text: text.into(),
            },
            &BuildOptions::default(),
        )
        .unwrap();
        let settings = plain_sgd(0.3);
        let model =
            crate::training::Model::init(&graph, &mut crate::rng::Generator::seed_from_u64(5))
                .unwrap();
        let run = |fused: bool| {
            let mut params = model.params.clone();
            let mut opt = Optimizer::new(settings, &params);
            let mut net =
                Network::record(&graph, &params, &model.node_params, Tape::new(), 4, true).unwrap();
            assert!(net.tape.sgd_fusable());
            let loss = net.loss.unwrap();
            for step in 0..5 {
                for (i, v) in net
                    .tape
                    .value_mut(net.input)
                    .unwrap()
                    .iter_mut()
                    .enumerate()
                {
                    *v = ((i * 7 + step) % 11) as f32 / 11.0;
                }
                net.set_targets(&[0, 1, 2, (step % 3) as u32]).unwrap();
                net.tape.forward(&params);
                if fused {
                    opt.backward_and_step(&mut net.tape, loss, &mut params);
                } else {
                    net.tape.backward(loss, &mut params);
                    opt.step(&mut params);
                }
            }
            params
        };
        let (fused, plain) = (run(true), run(false));
        for id in plain.ids() {
            for (f, p) in fused.value(id).iter().zip(plain.value(id)) {
                assert!((f - p).abs() < 1e-5, "{}: {f} vs {p}", plain.name(id));
            }
            assert_ne!(
                plain.value(id),
                model.params.value(id),
                "{} moved",
                plain.name(id)
            );
        }
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        let mut params = one_param(1.0, 3.0);
        let mut opt = Optimizer::new(
            graph::OptimizerSettings::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            &params,
        );
        opt.step(&mut params);
        // Bias-corrected m̂ = g, v̂ = g²: the first step is lr·sign(g).
        let id = params.find("w").unwrap();
        assert!(
            (params.value(id)[0] - 0.99).abs() < 1e-6,
            "{}",
            params.value(id)[0]
        );
    }
}
