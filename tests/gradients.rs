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
