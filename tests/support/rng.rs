//! [`Rng`]: a tiny seeded generator (xorshift64) for tests that want random but reproducible choices, and
//! [`seed`]: where a seed comes from when a test does not fix one (`REDWIRE_FAULT_SEED`, else the clock),
//! so a failure seen once can be replayed. Not for anything but tests: it is neither fast nor good.

use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that fixes [`seed`], in decimal or `0x` hex.
pub const SEED_VAR: &str = "REDWIRE_FAULT_SEED";

/// A deterministic generator: the same seed gives the same numbers.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included: the seed is mixed first).
    pub fn new(seed: u64) -> Rng {
        // splitmix64's finaliser, so neighbouring seeds give unrelated sequences and 0 is not a fixed point.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`; panics when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below(0): the range 0..0 is empty");
        self.next_u64() % n
    }

    /// A number in `1..=max` (`max` of 0 counts as 1).
    pub fn one_to(&mut self, max: usize) -> usize {
        1 + self.below(max.max(1) as u64) as usize
    }
}

/// `REDWIRE_FAULT_SEED` when set (panics when it is not a number), else a fresh seed from the clock.
pub fn seed() -> u64 {
    match std::env::var(SEED_VAR) {
        Ok(text) => {
            let t = text.trim();
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => t.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{SEED_VAR}={text:?} is not a number (decimal or 0x hex)"))
        }
        Err(_) => {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            nanos ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}
