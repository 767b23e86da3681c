//! The random generator behind every seeded draw (initial weights, shuffles, dropout
//! masks, augmentation, a table's test rows), and its state as a checkpoint keeps it.
//!
//! It is ChaCha with 12 rounds, the algorithm of `rand`'s `StdRng`, named directly
//! because `StdRng` hides its position in the stream: a resumed run must continue each
//! generator exactly where the interrupted one stopped.

use rand::SeedableRng;

/// The generator: `Generator::seed_from_u64(seed)` draws what `StdRng`'s would.
pub type Generator = rand_chacha::ChaCha12Rng;

/// Where a [`Generator`] is: its key, stream and position, which fix every later draw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GeneratorState {
    /// The 32-byte key, as 64 hexadecimal digits.
    pub seed: String,
    pub stream: u64,
    /// The position in 32-bit words, in decimal (a 68-bit number: JSON has no `u128`).
    pub word_pos: String,
}

impl GeneratorState {
    pub fn of(generator: &Generator) -> GeneratorState {
        GeneratorState {
            seed: generator
                .get_seed()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            stream: generator.get_stream(),
            word_pos: generator.get_word_pos().to_string(),
        }
    }

    /// The generator this state describes; `None` when the text is not such a state.
    pub fn restore(&self) -> Option<Generator> {
        let hex = self.seed.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut seed = [0u8; 32];
        for (byte, pair) in seed.iter_mut().zip(hex.chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        let word_pos: u128 = self.word_pos.parse().ok()?;
        if word_pos >> 68 != 0 {
            return None;
        }
        let mut generator = Generator::from_seed(seed);
        generator.set_stream(self.stream);
        generator.set_word_pos(word_pos);
        Some(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore};

    #[test]
    fn the_generator_draws_what_rands_std_rng_draws_for_a_seed() {
        let mut ours = Generator::seed_from_u64(42);
        let mut std = rand::rngs::StdRng::seed_from_u64(42);
        for _ in 0..1000 {
            assert_eq!(ours.next_u64(), std.next_u64());
        }
        assert_eq!(ours.random::<f32>(), std.random::<f32>());
    }

    #[test]
    fn a_restored_state_continues_the_stream_exactly() {
        let mut generator = Generator::seed_from_u64(7);
        // An odd number of 32-bit words, so the position is inside a 64-bit draw's block.
        for _ in 0..1001 {
            generator.next_u32();
        }
        let state = GeneratorState::of(&generator);
        let json = serde_json::to_string(&state).unwrap();
        let mut restored = serde_json::from_str::<GeneratorState>(&json)
            .unwrap()
            .restore()
            .unwrap();
        for _ in 0..5000 {
            assert_eq!(restored.next_u64(), generator.next_u64());
        }
    }

    #[test]
    fn a_state_that_is_not_one_is_refused() {
        let good = GeneratorState::of(&Generator::seed_from_u64(1));
        let short = GeneratorState {
            seed: "ab".into(),
            ..good.clone()
        };
        let not_hex = GeneratorState {
            seed: "zz".repeat(32),
            ..good.clone()
        };
        let far = GeneratorState {
            word_pos: (1u128 << 70).to_string(),
            ..good.clone()
        };
        assert!(good.restore().is_some());
        for bad in [short, not_hex, far] {
            assert!(bad.restore().is_none(), "{bad:?}");
        }
    }
}
