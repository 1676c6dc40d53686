//! A fast, non-cryptographic hasher (the Fx hash of rustc and Firefox) for the store's hot
//! in-memory maps keyed by topic and queue id: the append path looks up the next queue
//! offset and the dispatcher its ConsumeQueue for every message, where SipHash cost more
//! than the rest of the lookup. Topic names are validated and bounded in number by the
//! broker's topic configuration, so hash flooding is not a concern for these maps.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.add(u64::from(i as u32));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_hashes_differ() {
        let mut m: FastMap<String, FastMap<i32, i64>> = FastMap::default();
        for t in ["a", "TopicTest", "TopicTest1", "%RETRY%group"] {
            for q in 0..16 {
                m.entry(t.to_string()).or_default().insert(q, i64::from(q) * 10);
            }
        }
        assert_eq!(m.get("TopicTest1").and_then(|q| q.get(&7)), Some(&70));
        assert_eq!(m.get("TopicTest").map(|q| q.len()), Some(16));
        let h = |s: &str| {
            let mut x = FxHasher::default();
            x.write(s.as_bytes());
            x.finish()
        };
        assert_ne!(h("TopicTest"), h("TopicTest1"));
    }
}
