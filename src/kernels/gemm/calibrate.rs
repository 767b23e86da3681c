//! The zero-skipping product against the dense one, decided per product shape by timing
//! both on this machine. They give the same bits (see `packed.rs`), so only speed is at
//! stake, and which is faster depends on the CPU: on a Zen 3 (AVX2) the zero-skipping
//! first layer wins at MNIST's fifth of nonzero pixels, while on an AVX-512 Xeon a dense
//! product at MKL's measured rate would beat it (`../shared/measurements`, issue 21).
//!
//! A shape's first [`TIMED_RUNS`] products alternate the two paths and are timed; the
//! faster one (by its best time) then takes every later product of that shape.
//! `NNC_SPARSE=always` or `NNC_SPARSE=never` fixes the choice, for measuring one path.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// What identifies a product for the choice: its sizes, layout and thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_transposed: bool,
    pub threads: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    Sparse,
    Dense,
}

/// What the next product of a shape does: take the chosen path, or time one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    Run(Path),
    Time(Path),
}

/// Timed products per shape before the choice: each path twice, alternated, so that the
/// first call's warm-up (buffers growing, caches filling) is not what decides.
const TIMED_RUNS: u32 = 4;

#[derive(Debug, Default)]
struct Trial {
    sparse: Option<Duration>,
    dense: Option<Duration>,
    runs: u32,
}

#[derive(Debug)]
enum State {
    Trying(Trial),
    Decided(Path),
}

static STATES: Mutex<Option<HashMap<Key, State>>> = Mutex::new(None);

fn forced() -> Option<Path> {
    static FORCED: OnceLock<Option<Path>> = OnceLock::new();
    *FORCED.get_or_init(|| match std::env::var("NNC_SPARSE").as_deref() {
        Ok("always") => Some(Path::Sparse),
        Ok("never") => Some(Path::Dense),
        _ => None,
    })
}

fn with_states<R>(f: impl FnOnce(&mut HashMap<Key, State>) -> R) -> R {
    // A panic while holding the lock leaves only timings behind: still usable.
    let mut states = STATES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(states.get_or_insert_with(HashMap::new))
}

/// The path of the next product of shape `key`.
pub(super) fn next(key: Key) -> Next {
    if let Some(path) = forced() {
        return Next::Run(path);
    }
    with_states(|states| {
        match states
            .entry(key)
            .or_insert_with(|| State::Trying(Trial::default()))
        {
            State::Decided(path) => Next::Run(*path),
            State::Trying(trial) if trial.runs % 2 == 0 => Next::Time(Path::Sparse),
            State::Trying(_) => Next::Time(Path::Dense),
        }
    })
}

/// Records how long a timed product of shape `key` took on `path`; the last timed run
/// decides.
pub(super) fn record(key: Key, path: Path, took: Duration) {
    with_states(|states| {
        let Some(State::Trying(trial)) = states.get_mut(&key) else {
            return;
        };
        let best = match path {
            Path::Sparse => &mut trial.sparse,
            Path::Dense => &mut trial.dense,
        };
        *best = Some(best.map_or(took, |b| b.min(took)));
        trial.runs += 1;
        if trial.runs >= TIMED_RUNS {
            let chosen = match (trial.sparse, trial.dense) {
                (Some(sparse), Some(dense)) if dense < sparse => Path::Dense,
                _ => Path::Sparse,
            };
            states.insert(key, State::Decided(chosen));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faster_path_is_chosen_after_the_timed_runs() {
        if forced().is_some() {
            return; // NNC_SPARSE set for the whole test run
        }
        let key = |n| Key {
            m: 7,
            k: 13,
            n,
            a_transposed: false,
            threads: 99,
        };
        let ms = Duration::from_millis;
        for (n, sparse, dense, want) in [(1, 5, 3, Path::Dense), (2, 3, 5, Path::Sparse)] {
            for run in 0..TIMED_RUNS {
                let path = if run % 2 == 0 {
                    Path::Sparse
                } else {
                    Path::Dense
                };
                assert_eq!(next(key(n)), Next::Time(path));
                let took = if path == Path::Sparse { sparse } else { dense };
                record(key(n), path, ms(took + u64::from(run)));
            }
            assert_eq!(next(key(n)), Next::Run(want));
        }
    }
}
