//! Optimizers: SGD with momentum and Adam. State is allocated once, at construction; a
//! step updates every parameter from its gradient and zeroes the gradient.

use crate::autodiff::Params;
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
    },
}

impl Optimizer {
    pub fn new(settings: graph::Optimizer, params: &Params) -> Self {
        let zeros = || {
            params
                .ids()
                .map(|id| vec![0.0; params.value(id).len()])
                .collect::<Vec<_>>()
        };
        match settings {
            graph::Optimizer::Sgd { lr, momentum } => Optimizer::Sgd {
                lr,
                momentum,
                velocity: if momentum == 0.0 { Vec::new() } else { zeros() },
            },
            graph::Optimizer::Adam {
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
            },
        }
    }

    /// The learning rate, for messages.
    pub fn lr(&self) -> f32 {
        match self {
            Optimizer::Sgd { lr, .. } | Optimizer::Adam { lr, .. } => *lr,
        }
    }

    /// Applies one update from the accumulated gradients, then zeroes them.
    pub fn step(&mut self, params: &mut Params) {
        match self {
            Optimizer::Sgd {
                lr,
                momentum,
                velocity,
            } => {
                for id in params.ids() {
                    let (w, g) = params.value_and_grad_mut(id);
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
            } => {
                *t = t.saturating_add(1);
                let correction1 = 1.0 - beta1.powi(*t);
                let correction2 = 1.0 - beta2.powi(*t);
                let step = *lr * correction2.sqrt() / correction1;
                let eps_hat = *eps * correction2.sqrt();
                for id in params.ids() {
                    let (w, g) = params.value_and_grad_mut(id);
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

    fn one_param(value: f32, grad: f32) -> Params {
        let mut params = Params::new();
        let id = params
            .add("w", Shape::vector(1).unwrap(), vec![value])
            .unwrap();
        params.value_and_grad_mut(id).1[0] = grad;
        params
    }

    #[test]
    fn sgd_steps_against_the_gradient_and_zeroes_it() {
        let mut params = one_param(1.0, 2.0);
        let mut opt = Optimizer::new(
            graph::Optimizer::Sgd {
                lr: 0.1,
                momentum: 0.0,
            },
            &params,
        );
        opt.step(&mut params);
        let id = params.find("w").unwrap();
        assert!((params.value(id)[0] - 0.8).abs() < 1e-7);
        assert_eq!(params.grad(id), &[0.0]);
    }

    #[test]
    fn momentum_accumulates_velocity() {
        let mut params = one_param(0.0, 1.0);
        let mut opt = Optimizer::new(
            graph::Optimizer::Sgd {
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
    fn adam_first_step_moves_by_lr() {
        let mut params = one_param(1.0, 3.0);
        let mut opt = Optimizer::new(
            graph::Optimizer::Adam {
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
