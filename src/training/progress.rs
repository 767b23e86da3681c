//! Progress events of a training run, and when to send them: every
//! [`PROGRESS_INTERVAL`] of wall time at any batch size, at no measurable cost per step.
//! Drawing them (a bar on a terminal, nothing otherwise) is the command line's business.

use std::time::{Duration, Instant};

use super::trainer::EpochReport;

/// How often a running epoch reports its steps: a few times a second.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// Progress events, for a progress bar or plain lines.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    EpochStarted {
        epoch: usize,
        epochs: usize,
        steps: usize,
    },
    /// Sent during an epoch, about every `TrainConfig::progress_interval`.
    Steps {
        /// Steps of this epoch done so far.
        done: usize,
        /// Mean training loss of this epoch's batches so far.
        train_loss: f32,
        /// Training samples per second in this epoch so far.
        samples_per_second: f64,
    },
    EpochFinished(&'a EpochReport),
}

/// Clock reads closer together than this make the stride longer.
const MIN_READ_GAP: Duration = Duration::from_millis(1);
/// Clock reads further apart than this make the stride shorter.
const MAX_READ_GAP: Duration = Duration::from_millis(10);
/// The longest stride: at the fastest step seen (about 12 µs, batch 1) the stride settles
/// near 128, so this only bounds a pathological case.
const MAX_STRIDE: u32 = 1 << 16;

/// Decides after which steps to report progress. Reading the clock costs about 30 ns here
/// (`Instant::now`, vDSO), against about 12 µs for a training step at batch 1 and
/// milliseconds at batch 128; so the clock is read only every `stride` steps, and the
/// stride adapts (doubling or halving) until reads are 1–10 ms apart: at batch 1 that is
/// one read per ~128 steps, at large batches one per step. A report is then at most one
/// read late.
#[derive(Debug, Clone)]
pub struct ProgressTimer {
    interval: Duration,
    stride: u32,
    countdown: u32,
    last_read: Instant,
    last_report: Instant,
}

impl ProgressTimer {
    /// A timer for an epoch that started at `now`; the first step reads the clock.
    pub fn start(interval: Duration, now: Instant) -> ProgressTimer {
        ProgressTimer {
            interval,
            stride: 1,
            countdown: 1,
            last_read: now,
            last_report: now,
        }
    }

    /// Called after every step: whether to report now. Calls `clock` only when this step
    /// reads the clock (production passes `Instant::now`; tests pass a simulated one).
    #[inline]
    pub fn tick(&mut self, clock: impl FnOnce() -> Instant) -> bool {
        self.countdown -= 1;
        if self.countdown > 0 {
            return false;
        }
        let now = clock();
        let gap = now.saturating_duration_since(self.last_read);
        self.last_read = now;
        if gap < MIN_READ_GAP {
            self.stride = (self.stride * 2).min(MAX_STRIDE);
        } else if gap > MAX_READ_GAP {
            self.stride = (self.stride / 2).max(1);
        }
        self.countdown = self.stride;
        if now.saturating_duration_since(self.last_report) >= self.interval {
            self.last_report = now;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` simulated steps of `step` each; returns the clock reads and the
    /// simulated times (since the start) of the reports.
    fn simulate(interval: Duration, step: Duration, steps: u32) -> (u32, Vec<Duration>) {
        let start = Instant::now();
        let mut timer = ProgressTimer::start(interval, start);
        let (mut reads, mut reports) = (0, Vec::new());
        for i in 1..=steps {
            let now = start + step * i;
            if timer.tick(|| {
                reads += 1;
                now
            }) {
                reports.push(now - start);
            }
        }
        (reads, reports)
    }

    #[test]
    fn fast_steps_read_the_clock_rarely_and_still_report_on_time() {
        // Batch 1: 12 µs a step, 10 simulated seconds.
        let (reads, reports) = simulate(PROGRESS_INTERVAL, Duration::from_micros(12), 833_333);
        assert!(reads < 833_333 / 64, "{reads} clock reads");
        assert!((48..=50).contains(&reports.len()), "{reports:?}");
        for pair in reports.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap >= PROGRESS_INTERVAL, "{pair:?}");
            // Late by at most one stride of reads (under 10 ms apart once settled).
            assert!(gap < PROGRESS_INTERVAL + MAX_READ_GAP, "{pair:?}");
        }
    }

    #[test]
    fn slow_steps_read_the_clock_every_step() {
        // Batch 128 on a wide model: 50 ms a step.
        let (reads, reports) = simulate(PROGRESS_INTERVAL, Duration::from_millis(50), 40);
        assert_eq!(reads, 40);
        let expected: Vec<Duration> = (1..=10).map(|k| Duration::from_millis(200 * k)).collect();
        assert_eq!(reports, expected);
    }

    #[test]
    fn a_zero_interval_reports_at_every_read_from_the_first_step() {
        let (reads, reports) = simulate(Duration::ZERO, Duration::from_micros(100), 20);
        assert_eq!(reports.len() as u32, reads);
        assert_eq!(reports[0], Duration::from_micros(100));
    }
}
