//! Normalisation: each raw field reduced to the form the comparisons work on.

pub mod date;
pub mod fields;
pub mod name;

use std::hash::{DefaultHasher, Hash, Hasher};

/// A stable 64-bit hash of a string (SipHash with fixed keys): whole values that are only
/// compared for equality or counted are kept as these.
pub fn hash_str(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
