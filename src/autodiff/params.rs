//! Trainable parameters: named tensors that live outside the tape and persist across
//! steps, each with a gradient buffer of the same size.

use super::{Shape, TapeError};

/// Index of a parameter in [`Params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamId(pub(crate) u32);

impl ParamId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Named parameter tensors and their gradients. Gradients accumulate across
/// [`super::Tape::backward`] calls until [`Params::zero_grads`].
#[derive(Debug, Clone, Default)]
pub struct Params {
    names: Vec<String>,
    shapes: Vec<Shape>,
    pub(crate) values: Vec<Vec<f32>>,
    pub(crate) grads: Vec<Vec<f32>>,
}

impl Params {
    pub fn new() -> Self {
        Params::default()
    }

    /// Adds a parameter with these initial values.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        shape: Shape,
        values: Vec<f32>,
    ) -> Result<ParamId, TapeError> {
        if values.len() != shape.numel() {
            return Err(TapeError::Length {
                what: "parameter values",
                expected: shape.numel(),
                got: values.len(),
            });
        }
        let id = ParamId(u32::try_from(self.values.len()).expect("fewer than 2³² parameters"));
        self.names.push(name.into());
        self.shapes.push(shape);
        self.grads.push(vec![0.0; values.len()]);
        self.values.push(values);
        Ok(id)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = ParamId> + use<> {
        (0..self.values.len() as u32).map(ParamId)
    }

    pub fn name(&self, id: ParamId) -> &str {
        &self.names[id.index()]
    }

    pub fn shape(&self, id: ParamId) -> Shape {
        self.shapes[id.index()]
    }

    pub fn value(&self, id: ParamId) -> &[f32] {
        &self.values[id.index()]
    }

    pub fn value_mut(&mut self, id: ParamId) -> &mut [f32] {
        &mut self.values[id.index()]
    }

    pub fn grad(&self, id: ParamId) -> &[f32] {
        &self.grads[id.index()]
    }

    /// The value and gradient of one parameter at once, for optimizers.
    pub fn value_and_grad_mut(&mut self, id: ParamId) -> (&mut [f32], &mut [f32]) {
        (&mut self.values[id.index()], &mut self.grads[id.index()])
    }

    /// Looks a parameter up by name.
    pub fn find(&self, name: &str) -> Option<ParamId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| ParamId(i as u32))
    }

    pub fn zero_grads(&mut self) {
        self.grads.iter_mut().for_each(|g| g.fill(0.0));
    }

    /// Total number of scalar parameters.
    pub fn count(&self) -> usize {
        self.values.iter().map(Vec::len).sum()
    }
}
