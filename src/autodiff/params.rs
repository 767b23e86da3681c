//! Parameters: named tensors that live outside the tape and persist across steps. A
//! trainable one has a gradient buffer of its size; a buffer (a running statistic that an
//! op maintains) has none, is saved and loaded like the rest, and is never optimised.

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
    /// Stored as the transpose of the saved layout (see [`Params::add_transposed`]).
    transposed: Vec<bool>,
    /// Trained by the optimizer (else a buffer, see [`Params::add_buffer`]).
    trainable: Vec<bool>,
    /// A count of whole batches, saved as a 64-bit integer (see [`Params::add_count`]).
    counts: Vec<bool>,
    /// Penalised by weight decay (a layer's weight; see [`Params::set_decays`]).
    decays: Vec<bool>,
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
        self.transposed.push(false);
        self.trainable.push(true);
        self.counts.push(false);
        self.decays.push(false);
        self.grads.push(vec![0.0; values.len()]);
        self.values.push(values);
        Ok(id)
    }

    /// Adds a buffer: saved and loaded with the weights, but without a gradient, never
    /// optimised, counted or gradient-checked (a batch norm's running statistics).
    pub fn add_buffer(
        &mut self,
        name: impl Into<String>,
        shape: Shape,
        values: Vec<f32>,
    ) -> Result<ParamId, TapeError> {
        let id = self.add(name, shape, values)?;
        self.trainable[id.index()] = false;
        self.grads[id.index()] = Vec::new();
        Ok(id)
    }

    /// A buffer holding a count (a batch norm's `num_batches_tracked`): kept as an `f32`
    /// (exact below 2²⁴ batches), saved as a 64-bit integer, as PyTorch keeps it.
    pub fn add_count(
        &mut self,
        name: impl Into<String>,
        shape: Shape,
        values: Vec<f32>,
    ) -> Result<ParamId, TapeError> {
        let id = self.add_buffer(name, shape, values)?;
        self.counts[id.index()] = true;
        Ok(id)
    }

    /// Marks a layer's weight, which weight decay penalises (biases and batch-norm
    /// parameters are not).
    pub fn set_decays(&mut self, id: ParamId) {
        self.decays[id.index()] = true;
    }

    /// Whether weight decay penalises this tensor.
    pub fn decays(&self, id: ParamId) -> bool {
        self.decays[id.index()]
    }

    /// Whether this buffer is a count, saved as a 64-bit integer.
    pub fn is_count(&self, id: ParamId) -> bool {
        self.counts[id.index()]
    }

    /// Whether the optimizer trains this tensor (else it is a buffer).
    pub fn is_trainable(&self, id: ParamId) -> bool {
        self.trainable[id.index()]
    }

    /// The tensors the optimizer trains, in order.
    pub fn trainable_ids(&self) -> impl Iterator<Item = ParamId> + '_ {
        self.ids().filter(|&id| self.is_trainable(id))
    }

    /// Adds a matrix given in its saved layout (`saved_shape`, row-major) but stored
    /// transposed. Dense weights are saved `[units, n_in]` as PyTorch does and stored
    /// `[n_in, units]`, so that at batch 1 the product and the update read one contiguous
    /// row per nonzero input (see `kernels::gemm`). Saving and loading go through
    /// [`Params::saved_values`] and [`Params::load_saved`].
    pub fn add_transposed(
        &mut self,
        name: impl Into<String>,
        saved_shape: Shape,
        saved: Vec<f32>,
    ) -> Result<ParamId, TapeError> {
        if saved_shape.rank() != 2 {
            return Err(TapeError::Rank {
                op: "add_transposed",
                expected: "a matrix",
                got: saved_shape,
            });
        }
        let (rows, cols) = (saved_shape.rows(), saved_shape.cols());
        let id = self.add(name, Shape::matrix(cols, rows)?, vec![0.0; saved.len()])?;
        self.transposed[id.index()] = true;
        self.load_saved(id, &saved)?;
        Ok(id)
    }

    /// Whether the parameter is stored as the transpose of its saved layout.
    pub fn is_transposed(&self, id: ParamId) -> bool {
        self.transposed[id.index()]
    }

    /// The shape a parameter is saved with.
    pub fn saved_shape(&self, id: ParamId) -> Shape {
        let shape = self.shapes[id.index()];
        match self.transposed[id.index()] {
            true => Shape::matrix(shape.cols(), shape.rows())
                .expect("the transpose of a valid shape is valid"),
            false => shape,
        }
    }

    /// A parameter's values in its saved layout.
    pub fn saved_values(&self, id: ParamId) -> Vec<f32> {
        let values = &self.values[id.index()];
        if !self.transposed[id.index()] {
            return values.clone();
        }
        let shape = self.shapes[id.index()];
        transpose(values, shape.rows(), shape.cols())
    }

    /// Sets a parameter from values in its saved layout.
    pub fn load_saved(&mut self, id: ParamId, saved: &[f32]) -> Result<(), TapeError> {
        let expected = self.values[id.index()].len();
        if saved.len() != expected {
            return Err(TapeError::Length {
                what: "parameter values",
                expected,
                got: saved.len(),
            });
        }
        if self.transposed[id.index()] {
            let saved_shape = self.saved_shape(id);
            let values = transpose(saved, saved_shape.rows(), saved_shape.cols());
            self.values[id.index()].copy_from_slice(&values);
        } else {
            self.values[id.index()].copy_from_slice(saved);
        }
        Ok(())
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

    /// The values of two different parameters at once (a batch norm's running mean and
    /// variance).
    ///
    /// # Panics
    /// If `a == b`.
    pub fn two_values_mut(&mut self, a: ParamId, b: ParamId) -> (&mut [f32], &mut [f32]) {
        assert_ne!(a, b, "two_values_mut: the same parameter twice");
        let (low, high) = (a.index().min(b.index()), a.index().max(b.index()));
        let (head, tail) = self.values.split_at_mut(high);
        let (first, second) = (&mut head[low], &mut tail[0]);
        if a.index() < b.index() {
            (first, second)
        } else {
            (second, first)
        }
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

    /// Total number of trainable scalars (buffers are not parameters).
    pub fn count(&self) -> usize {
        self.trainable_ids()
            .map(|id| self.values[id.index()].len())
            .sum()
    }
}

/// The transpose of a row-major `[rows, cols]` matrix.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_parameters_round_trip_through_their_saved_layout() {
        let mut params = Params::new();
        let saved = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
        let id = params
            .add_transposed("w", Shape::matrix(2, 3).unwrap(), saved.clone())
            .unwrap();
        assert_eq!(params.shape(id), Shape::matrix(3, 2).unwrap());
        assert_eq!(params.value(id), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(params.saved_shape(id), Shape::matrix(2, 3).unwrap());
        assert_eq!(params.saved_values(id), saved);
        params
            .load_saved(id, &[6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
            .unwrap();
        assert_eq!(params.value(id), &[6.0, 3.0, 5.0, 2.0, 4.0, 1.0]);
    }

    #[test]
    fn buffers_are_kept_but_not_trained_or_counted() {
        let mut params = Params::new();
        let w = params
            .add("w", Shape::vector(3).unwrap(), vec![1.0; 3])
            .unwrap();
        let b = params
            .add_buffer("running_mean", Shape::vector(2).unwrap(), vec![0.5; 2])
            .unwrap();
        assert_eq!(params.count(), 3);
        assert_eq!(params.trainable_ids().collect::<Vec<_>>(), [w]);
        assert!(!params.is_trainable(b) && params.grad(b).is_empty());
        assert_eq!(params.saved_values(b), [0.5, 0.5]);
        assert_eq!(params.ids().count(), 2);
    }
}
