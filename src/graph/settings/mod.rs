//! The `train` block's settings: the values a run reads ([`TrainSettings`], with the
//! schedule and optimizer it names) and, in `table.rs`, the one table of the settings the
//! language knows ([`SETTINGS`]: name, kind and range, default, help), which the parser,
//! its diagnostics and `nnc show` read. A setting's default is its row's, so the defaults
//! are listed nowhere else.

use crate::data::DataSource;
use crate::language::Span;

mod table;

pub use table::{
    Kind, MAX_BATCH, MAX_SHIFT, SETTINGS, Scalar, Setting, SettingDef, find, names, shown,
    train_block,
};

/// The `train` block, defaults filled in (see the language contract).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    pub data: DataSource,
    pub optimizer: OptimizerSettings,
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
    pub shuffle: bool,
    /// Fraction of the training set held out, in `[0, 1)`.
    pub validation: f32,
    /// Stop after this many epochs without a better validation loss.
    pub early_stopping: Option<usize>,
    /// L2 penalty on every weight (not biases or batch-norm parameters), in `[0, 1)`;
    /// decoupled from the gradient with Adam (AdamW).
    pub weight_decay: f32,
    /// How the learning rate moves step by step (exclusive with `lr_decay`).
    pub schedule: Schedule,
    /// The learning rate of epoch `e` (from 1) is `lr · lr_decay^(e − 1)`; in `(0, 1]`.
    /// An extension of the v1 language (see the README).
    pub lr_decay: f32,
    /// Probability that a training image is mirrored left to right (augmentation), in
    /// `[0, 1]`. An extension of the v1 language.
    pub flip: f32,
    /// Largest random translation of a training image, in pixels per axis. An extension
    /// of the v1 language.
    pub shift: u32,
    /// Where each setting was written, for diagnostics raised later (e.g. an input size
    /// that does not match a dataset found at run time). `None` for defaults.
    pub data_span: Option<Span>,
}

impl Default for TrainSettings {
    /// Every setting at its row's default.
    fn default() -> Self {
        let mut settings = TrainSettings {
            data: DataSource::Mnist,
            optimizer: OptimizerSettings::Sgd {
                lr: 0.0,
                momentum: 0.0,
            },
            epochs: 0,
            batch: 0,
            seed: 0,
            shuffle: false,
            validation: 0.0,
            early_stopping: None,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            lr_decay: 0.0,
            flip: 0.0,
            shift: 0,
            data_span: None,
        };
        for setting in SETTINGS {
            (setting.set)(&mut settings, setting.default.clone());
        }
        settings
    }
}

/// A learning-rate schedule over the whole run's steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// The optimizer's `lr` throughout (with `lr_decay`, if any, per epoch).
    Constant,
    /// From `lr` down to 0 along a half cosine over all steps.
    Cosine,
    /// PyTorch's `OneCycleLR` (its defaults): from `max_lr / 25` up to `max_lr` over the
    /// first 30 % of the steps, then down to `max_lr / 25 / 10⁴`, both halves cosines. The
    /// optimizer's `lr` is not used.
    OneCycle { max_lr: f32 },
}

impl Schedule {
    /// The learning rate of step `step` (from 0) of `total`, for an optimizer `lr`.
    pub fn lr_at(self, lr: f32, step: usize, total: usize) -> f32 {
        let cosine = |from: f64, to: f64, fraction: f64| {
            to + (from - to) * 0.5 * (1.0 + (std::f64::consts::PI * fraction.clamp(0.0, 1.0)).cos())
        };
        match self {
            Schedule::Constant => lr,
            Schedule::Cosine => cosine(lr as f64, 0.0, step as f64 / total.max(1) as f64) as f32,
            Schedule::OneCycle { max_lr } => {
                let (peak, initial) = (max_lr as f64, max_lr as f64 / 25.0);
                let last = total.saturating_sub(1).max(1) as f64;
                let rise = (0.3 * total as f64 - 1.0).max(1.0);
                let step = step as f64;
                if step <= rise {
                    cosine(initial, peak, step / rise) as f32
                } else {
                    cosine(peak, initial / 1e4, (step - rise) / (last - rise).max(1.0)) as f32
                }
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Cosine => write!(f, "cosine"),
            Schedule::OneCycle { max_lr } => write!(f, "onecycle({max_lr:?})"),
        }
    }
}

/// The optimizer the `train` block names, with its hyperparameters (the training layer's
/// `Optimizer` is its state).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerSettings {
    Sgd {
        lr: f32,
        momentum: f32,
    },
    Adam {
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
    },
}

impl OptimizerSettings {
    /// The learning rate the block gives (a schedule's starting point).
    pub fn lr(&self) -> f32 {
        match *self {
            OptimizerSettings::Sgd { lr, .. } | OptimizerSettings::Adam { lr, .. } => lr,
        }
    }
}

impl std::fmt::Display for OptimizerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            OptimizerSettings::Sgd { lr, momentum } => {
                write!(f, "sgd(lr = {lr:?}, momentum = {momentum:?})")
            }
            OptimizerSettings::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => write!(
                f,
                "adam(lr = {lr:?}, beta1 = {beta1:?}, beta2 = {beta2:?}, eps = {eps:?})"
            ),
        }
    }
}

#[cfg(test)]
mod tests;
