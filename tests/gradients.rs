//! Random composite graphs (several ops, fan-out, shared parameters): the tape's
//! gradients must match central differences.

use nnc::autodiff::gradcheck::check_tape;
use nnc::autodiff::{Params, Shape, Tape, TapeError, Var};
use proptest::prelude::*;

/// One step of a random program: an op and which earlier values it reads.
#[derive(Debug, Clone)]
struct Step {
    op: u8,
    a: usize,
    b: usize,
}

fn step() -> impl Strategy<Value = Step> {
    (0u8..12, any::<usize>(), any::<usize>()).prop_map(|(op, a, b)| Step { op, a, b })
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Builds the program; every intermediate stays `[rows, cols]`, so any value can feed
/// any op, and `w`, `w2` and `bias` are shared by every step that uses them.
#[allow(clippy::result_large_err)] // a test helper: the error is only unwrapped
fn build(
    rows: usize,
    cols: usize,
    steps: &[Step],
    seed: u64,
    cross_entropy: bool,
) -> Result<(Tape, Params, Var), TapeError> {
    let mut params = Params::new();
    let m = Shape::matrix(rows, cols)?;
    let p0 = params.add("p0", m, values(rows * cols, seed))?;
    let p1 = params.add("p1", m, values(rows * cols, seed + 1))?;
    let w = params.add(
        "w",
        Shape::matrix(cols, cols)?,
        values(cols * cols, seed + 2),
    )?;
    let w2 = params.add(
        "w2",
        Shape::matrix(cols, 2 * cols)?,
        values(2 * cols * cols, seed + 3),
    )?;
    let bias = params.add("bias", Shape::vector(cols)?, values(cols, seed + 4))?;
    let mut tape = Tape::new();
    let [p0, p1, w, w2, bias] = [p0, p1, w, w2, bias].map(|id| tape.param(&params, id));
    let mut pool = vec![p0, p1];
    for s in steps {
        let (a, b) = (pool[s.a % pool.len()], pool[s.b % pool.len()]);
        let next = match s.op {
            0 => tape.add(a, b)?,
            1 => tape.sub(a, b)?,
            2 => tape.mul(a, b)?,
            3 => tape.sigmoid(a),
            4 => tape.tanh(a),
            5 => tape.scale(a, 0.5),
            6 => {
                let y = tape.matmul_nt(a, w)?;
                tape.bias_add(y, bias)?
            }
            7 => tape.softmax(a),
            8 => tape.log_softmax(a),
            9 => {
                let small = tape.scale(a, 0.3);
                tape.exp(small)
            }
            10 => {
                let joined = tape.concat(&[a, b])?;
                tape.matmul_nt(joined, w2)?
            }
            _ => tape.add_scalar(a, 0.25),
        };
        pool.push(next);
    }
    let last = *pool.last().expect("the pool starts with two values");
    let loss = if cross_entropy {
        let labels = tape.labels(rows, cols)?;
        let loss = tape.softmax_cross_entropy(last, labels)?;
        let classes: Vec<u32> = (0..rows).map(|r| (r * 3 % cols) as u32).collect();
        tape.set_labels(labels, &classes)?;
        loss
    } else {
        let squared = tape.mul(last, last)?;
        tape.mean(squared)
    };
    Ok((tape, params, loss))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn random_graphs_match_central_differences(
        rows in 1usize..4,
        cols in prop_oneof![Just(1usize), Just(7), Just(9), 2usize..12],
        steps in proptest::collection::vec(step(), 1..8),
        seed: u64,
        cross_entropy: bool,
    ) {
        let (mut tape, mut params, loss) = build(rows, cols, &steps, seed, cross_entropy).unwrap();
        let report = check_tape(&mut tape, &mut params, loss, 32);
        prop_assert!(report.checked > 0);
        prop_assert!(report.ok(), "{report:?}");
    }
}

/// Builds a random convolutional program on images `[batch, c, h, w]` that keep their
/// shape (convolutions with `pad = same`, element-wise ops, batch norm, a residual `+`,
/// a channel `concat` folded back by a 1×1 convolution), ending in a pooling layer, a
/// flatten and a dense layer scored by cross-entropy. The convolution weights and the
/// batch norm's tensors are shared by every step that uses them (fan-out into parameters).
#[allow(clippy::result_large_err)] // a test helper: the error is only unwrapped
fn build_cnn(
    (batch, c, hw): (usize, usize, usize),
    steps: &[Step],
    seed: u64,
    max_pool: bool,
) -> Result<(Tape, Params, Var), TapeError> {
    use nnc::ops::batchnorm::BatchNormParams;
    use nnc::ops::conv2d::{Padding, Window};
    use nnc::ops::pool::Pooling;
    let mut params = Params::new();
    let image = Shape::new(&[batch, c, hw, hw])?;
    let n = image.numel();
    let p0 = params.add("p0", image, values(n, seed))?;
    let p1 = params.add("p1", image, values(n, seed + 1))?;
    let k3 = params.add(
        "k3",
        Shape::new(&[c, c, 3, 3])?,
        values(c * c * 9, seed + 2),
    )?;
    let k1 = params.add(
        "k1",
        Shape::new(&[c, 2 * c, 1, 1])?,
        values(2 * c * c, seed + 3),
    )?;
    let cb = params.add("cb", Shape::vector(c)?, values(c, seed + 4))?;
    let ones: Vec<f32> = values(c, seed + 5).iter().map(|v| 1.0 + 0.5 * v).collect();
    let gamma = params.add("gamma", Shape::vector(c)?, ones)?;
    let beta = params.add("beta", Shape::vector(c)?, values(c, seed + 6))?;
    let mean = params.add_buffer("mean", Shape::vector(c)?, vec![0.0; c])?;
    let var = params.add_buffer("var", Shape::vector(c)?, vec![1.0; c])?;
    let tracked = params.add_buffer("tracked", Shape::scalar(), vec![0.0])?;
    let pooled = c * (hw / 2) * (hw / 2);
    let dense = params.add(
        "dense",
        Shape::matrix(3, pooled)?,
        values(3 * pooled, seed + 7),
    )?;
    let mut tape = Tape::new();
    let [p0, p1, k3, k1, cb, gamma, beta, mean, var, tracked, dense] =
        [p0, p1, k3, k1, cb, gamma, beta, mean, var, tracked, dense]
            .map(|id| tape.param(&params, id));
    let norm = BatchNormParams {
        gamma,
        beta,
        running_mean: mean,
        running_var: var,
        tracked,
    };
    let mut pool = vec![p0, p1];
    for s in steps {
        let (a, b) = (pool[s.a % pool.len()], pool[s.b % pool.len()]);
        let next = match s.op % 8 {
            0 => tape.conv2d(a, k3, Some(cb), Window::new(1, Padding::Same))?,
            1 => tape.add(a, b)?, // a residual connection when `b` is an earlier value
            2 => tape.mul(a, b)?,
            3 => tape.tanh(a),
            4 => tape.sigmoid(a),
            5 => tape.batchnorm(a, norm, 0.1, 1e-5)?,
            6 => {
                let joined = tape.concat(&[a, b])?;
                tape.conv2d(joined, k1, None, Window::new(1, Padding::Each(0)))?
            }
            _ => tape.sub(a, b)?,
        };
        pool.push(next);
    }
    let last = *pool.last().expect("the pool starts with two values");
    let kind = if max_pool {
        Pooling::Max
    } else {
        Pooling::Average
    };
    let pooled_values = tape.pool(kind, last, 2, 2)?;
    let flat = tape.reshape(pooled_values, Shape::matrix(batch, pooled)?)?;
    let logits = tape.matmul_nt(flat, dense)?;
    let labels = tape.labels(batch, 3)?;
    let loss = tape.softmax_cross_entropy(logits, labels)?;
    let classes: Vec<u32> = (0..batch).map(|r| (r % 3) as u32).collect();
    tape.set_labels(labels, &classes)?;
    Ok((tape, params, loss))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_convolutional_graphs_match_central_differences(
        batch in 2usize..4,
        c in 1usize..4,
        hw in 2usize..6,
        steps in proptest::collection::vec(step(), 1..6),
        seed: u64,
        max_pool: bool,
    ) {
        let (mut tape, mut params, loss) = build_cnn((batch, c, hw), &steps, seed, max_pool).unwrap();
        let report = check_tape(&mut tape, &mut params, loss, 24);
        prop_assert!(report.checked > 0);
        prop_assert!(report.ok(), "{report:?}");
    }
}
