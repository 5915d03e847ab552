//! A fast, per-map seeded hasher for the indicator tables and the id maps used while loading.
//!
//! SipHash made hashing the largest cost of loading a million-indicator bundle. This hasher
//! mixes 8 bytes at a time with a folded 64×64→128-bit multiply (the construction of
//! `foldhash`) and starts from a random seed per map, so keys cannot be chosen in advance to
//! collide.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// Odd constants from the fractional digits of pi (as in foldhash).
const K1: u64 = 0x243f_6a88_85a3_08d3;
const K2: u64 = 0x1319_8a2e_0370_7344;

pub(crate) type FastMap<K, V> = HashMap<K, V, FastState>;
pub(crate) type FastSet<K> = HashSet<K, FastState>;

#[derive(Debug, Clone, Copy)]
pub(crate) struct FastState {
    seed: u64,
}

impl Default for FastState {
    fn default() -> Self {
        Self {
            seed: RandomState::new().hash_one(K1) | 1,
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher { hash: self.seed }
    }
}

pub(crate) struct FastHasher {
    hash: u64,
}

fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = folded_multiply(self.hash ^ word, K1);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        // The length tells "ab" from "ab\0"; the remainder is always mixed in.
        self.add(u64::from_le_bytes(word) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        folded_multiply(self.hash, K2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_similar_keys() {
        let state = FastState::default();
        let mut buckets = [0u32; 256];
        let mut tags = [0u32; 128];
        for i in 0..100_000 {
            let h = state.hash_one(format!("host-{i:07}.example.com"));
            buckets[(h & 255) as usize] += 1;
            tags[(h >> 57) as usize] += 1;
        }
        // 100k keys over 256 buckets: about 390 each; nothing wildly off.
        assert!(
            buckets.iter().all(|&n| (250..550).contains(&n)),
            "{buckets:?}"
        );
        assert!(tags.iter().all(|&n| (550..1050).contains(&n)), "{tags:?}");
        assert_ne!(state.hash_one("ab"), state.hash_one("ab\0"));
        assert_ne!(
            FastState::default().hash_one("x"),
            FastState::default().hash_one("x")
        );
    }
}
