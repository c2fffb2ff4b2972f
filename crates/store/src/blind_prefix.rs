//! The first 8 bytes of blind indexes, as a first load into an empty vault keeps them in
//! memory while the vault's unique blind-index index is deferred to the commit (both backends
//! do): a blind index whose 8 bytes are not in the set cannot be in the vault, so only a batch
//! that shares a prefix (an ID number sent twice, or one chance in 10^19 a pair) needs the
//! index. 8 bytes a number, against the index's 40 and a random insert.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Blind-index prefixes, hashed as themselves.
pub type PrefixSet = HashSet<u64, BuildHasherDefault<PrefixHasher>>;

/// The first 8 bytes of a blind index (an HMAC, so already uniformly spread).
pub fn blind_prefix(blind_index: &[u8; 32]) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&blind_index[..8]);
    u64::from_le_bytes(head)
}

/// Hashes a blind-index prefix as itself: it is an HMAC's bytes, spread evenly already.
#[derive(Debug, Default)]
pub struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
