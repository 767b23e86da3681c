//! Standardisation of a table's features: `y = (x − mean) / std`, one mean and one
//! standard deviation per feature, broadcast over the batch. The statistics are the
//! training rows' (buffers of the graph's `standardize` node, saved with the weights), so
//! a saved model reads raw features. Not written in a model: the builder puts it after
//! the input when the `train` block reads a table with `normalize = true`.

use super::tensors::Tensors;
use super::{Builtin, Declare, Fill, Layer, Lowering, Onnx, ParamSpec};
use crate::autodiff::{Grads, Rule, Run, Scratch, Shape, ShapeError, Tape, TapeError, Values, Var};

pub const FUNCTIONS: &[Builtin] = &[];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standardize;

/// The statistics, each shaped like the input: identity until the training rows'
/// statistics are written in.
pub struct StandardizeTensors<T> {
    pub mean: T,
    pub std: T,
}

impl Tensors for Standardize {
    type Named<T> = StandardizeTensors<T>;

    fn declare<T>(
        &self,
        inputs: &[Shape],
        tensors: &mut impl Declare<T>,
    ) -> Result<Self::Named<T>, TapeError> {
        Ok(StandardizeTensors {
            mean: tensors.tensor(ParamSpec::buffer("mean", inputs[0], Fill::Zeros))?,
            std: tensors.tensor(ParamSpec::buffer("std", inputs[0], Fill::Ones))?,
        })
    }
}

impl Layer for Standardize {
    fn kind(&self) -> &'static str {
        "standardize"
    }

    fn describe(&self) -> String {
        "standardize(training mean, std)".to_owned()
    }

    fn shape(&self, inputs: &[Shape]) -> Result<Shape, ShapeError> {
        Ok(inputs[0])
    }

    fn tensors(&self, inputs: &[Shape]) -> Result<Vec<ParamSpec>, TapeError> {
        self.specs(inputs)
    }

    fn flops(&self, _inputs: &[Shape], output: Shape) -> u64 {
        2 * output.numel() as u64
    }

    fn lower(&self, at: &mut Lowering<'_>) -> Result<Var, TapeError> {
        let x = at.x();
        let t = at.tensors(|shapes, tensors| self.declare(shapes, tensors))?;
        at.tape.standardize(x, t.mean.var, t.std.var)
    }

    /// `(x − mean) / std` with the training rows' statistics, broadcast over the batch:
    /// the exported model reads raw features, as `nnc run` does.
    fn onnx(&self, at: &mut dyn Onnx) {
        let t = self.onnx_tensors(at);
        let mean = at.tensor(t.mean);
        let centred = at.emit_value("centred", "Sub", vec![at.input(0), mean], vec![]);
        let std = at.tensor(t.std);
        at.emit("Div", vec![centred, std], vec![]);
    }
}

impl Tape {
    /// `(x − mean) / std` for `x: [rows, ...]` whose rows have as many values as `mean` and
    /// `std` (which have one shape).
    pub fn standardize(&mut self, x: Var, mean: Var, std: Var) -> Result<Var, TapeError> {
        let (sx, sm, ss) = (self.shape(x), self.shape(mean), self.shape(std));
        let features = sm.numel();
        if sm != ss
            || features == 0
            || sx.numel() % features != 0
            || sx.dim(0) * features != sx.numel()
        {
            return Err(TapeError::Shape {
                op: "standardize",
                left: sx,
                right: sm,
                why: "each row of x needs one mean and one deviation per value",
            });
        }
        Ok(self.push(Standardize, &[x, mean, std], sx))
    }
}


impl Rule for Standardize {
    fn name(&self) -> &'static str {
        "standardize"
    }

    fn forward(&self, cx: &Values<'_>, out: &mut [f32], _: Scratch<'_>, _: Run<'_>) {
        let (x, mean, std) = (cx.input(0), cx.input(1), cx.input(2));
        let features = mean.len();
        for (x, y) in x.chunks_exact(features).zip(out.chunks_exact_mut(features)) {
            for (((y, &x), &m), &s) in y.iter_mut().zip(x).zip(mean).zip(std) {
                *y = (x - m) / s;
            }
        }
    }

    /// With `y = (x − m)/s`: `∂y/∂x = 1/s`, `∂y/∂m = −1/s`, `∂y/∂s = −(x − m)/s² = −y/s`; the
    /// statistics' gradients sum over rows. (In a model they are buffers, which need none, so
    /// only the checks reach those two.)
    fn backward(
        &self,
        cx: &Values<'_>,
        out: &[f32],
        grad_out: &[f32],
        _: Scratch<'_>,
        grads: &mut Grads<'_>,
    ) {
        let (x, mean, std) = (cx.inputs[0], cx.inputs[1], cx.inputs[2]);
        let s = cx.get(std);
        let features = s.len();
        if let Some(grad_x) = grads.get_mut(x) {
            for (gx, gy) in grad_x
                .chunks_exact_mut(features)
                .zip(grad_out.chunks_exact(features))
            {
                for ((gx, &gy), &s) in gx.iter_mut().zip(gy).zip(s) {
                    *gx += gy / s;
                }
            }
        }
        if let Some(grad_mean) = grads.get_mut(mean) {
            for gy in grad_out.chunks_exact(features) {
                for ((gm, &gy), &s) in grad_mean.iter_mut().zip(gy).zip(s) {
                    *gm -= gy / s;
                }
            }
        }
        if let Some(grad_std) = grads.get_mut(std) {
            for (gy, y) in grad_out
                .chunks_exact(features)
                .zip(out.chunks_exact(features))
            {
                for (((gs, &gy), &y), &s) in grad_std.iter_mut().zip(gy).zip(y).zip(s) {
                    *gs -= gy * y / s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use crate::autodiff::gradcheck::check_function;
    use crate::autodiff::gradcheck::testing::assert_ok;
    use crate::autodiff::{Shape, Tape, TapeError};

    proptest! {
        #[test]
        fn standardize_matches_central_differences(
            rows in 1usize..4,
            features in 1usize..11,
            x in vec(-3.0f32..3.0, 40),
            mean in vec(-1.0f32..1.0, 10),
            std in vec(0.5f32..2.0, 10),
        ) {
            let inputs = [
                (Shape::matrix(rows, features).unwrap(), x[..rows * features].to_vec()),
                (Shape::vector(features).unwrap(), mean[..features].to_vec()),
                (Shape::vector(features).unwrap(), std[..features].to_vec()),
            ];
            assert_ok(check_function(&inputs, |t, v| t.standardize(v[0], v[1], v[2])).unwrap())?;
        }
    }

    #[test]
    fn standardize_subtracts_the_mean_and_divides_by_the_deviation() {
        let mut params = crate::autodiff::Params::new();
        let mean = params
            .add_buffer("m", Shape::vector(2).unwrap(), vec![1.0, -2.0])
            .unwrap();
        let std = params
            .add_buffer("s", Shape::vector(2).unwrap(), vec![2.0, 0.5])
            .unwrap();
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(2, 2).unwrap());
        let (m, s) = (tape.param(&params, mean), tape.param(&params, std));
        let y = tape.standardize(x, m, s).unwrap();
        tape.value_mut(x)
            .unwrap()
            .copy_from_slice(&[3.0, -2.0, 1.0, -1.0]);
        tape.forward(&params);
        assert_eq!(tape.value(y), [1.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn mismatched_statistics_are_refused() {
        let mut tape = Tape::new();
        let x = tape.input(Shape::matrix(2, 3).unwrap());
        let m = tape.input(Shape::vector(2).unwrap());
        let s = tape.input(Shape::vector(2).unwrap());
        let err = tape.standardize(x, m, s).unwrap_err();
        assert!(matches!(err, TapeError::Shape { .. }), "{err}");
    }
}
