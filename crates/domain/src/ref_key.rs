//! Reference keys: the random, opaque tokens that stand for one ID number outside the vault.
//!
//! A reference key is never derived from the number it stands for (no hash, no HMAC), so
//! holding keys reveals nothing about ID numbers even to someone who can enumerate all
//! 10^11 valid numbers. The mapping lives only in the vault.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::error::ValidationError;

/// Length of the encoded key: 16 bytes in unpadded base64url.
const ENCODED_LEN: usize = 22;

/// 128 random bits, written as 22 characters of unpadded base64url.
///
/// The characters are kept inline rather than in a string of their own: a load of a million
/// rows creates a million keys and hands each to the vault, the registry, the mapping and
/// the checks between them, and as strings every one of those was an allocation. The bytes
/// are always ASCII (construction guarantees it), and compare and order as the text does.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefKey([u8; ENCODED_LEN]);

impl RefKey {
    /// A fresh key from the thread-local CSPRNG. 128 bits make collisions negligible, but the
    /// vault's unique constraint is still the final guard.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Wraps 16 bytes the caller already has, e.g. from a seeded generator for synthetic data.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let mut encoded = [0u8; ENCODED_LEN];
        // 16 bytes are exactly 22 characters unpadded, so the slice always has room.
        let _ = URL_SAFE_NO_PAD.encode_slice(bytes, &mut encoded);
        Self(encoded)
    }

    /// Parses exactly 22 unpadded base64url characters that decode to 16 bytes. The encoding
    /// must be canonical (unused trailing bits zero) so that equal keys are equal strings.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let well_formed = s.len() == ENCODED_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD
                .decode(s)
                .is_ok_and(|bytes| bytes.len() == 16);
        let mut encoded = [0u8; ENCODED_LEN];
        if well_formed {
            encoded.copy_from_slice(s.as_bytes());
            Ok(Self(encoded))
        } else {
            Err(ValidationError::new(
                "ref_key.format",
                "a reference key must be 22 characters of URL-safe base64 (A-Z, a-z, 0-9, '-' and '_') encoding 16 bytes",
            ))
        }
    }

    /// The encoded key.
    pub fn as_str(&self) -> &str {
        // Always ASCII, so never the empty default.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 16 bytes the key encodes.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        // Construction guarantees a canonical 16-byte encoding, so this always fills `out`.
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(self.0) {
            for (o, b) in out.iter_mut().zip(bytes) {
                *o = b;
            }
        }
        out
    }
}

text_type_impls!(RefKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_roundtrip_bytes() {
        let key = RefKey::generate();
        assert_eq!(key.as_str().len(), 22);
        assert_eq!(RefKey::parse(key.as_str()).expect("valid"), key);
        assert_eq!(RefKey::from_bytes(key.to_bytes()), key);
        assert_eq!(key.to_string(), key.as_str());
    }

    #[test]
    fn known_value() {
        let key = RefKey::from_bytes([0u8; 16]);
        assert_eq!(key.as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        let key = RefKey::from_bytes([0xff; 16]);
        assert_eq!(key.as_str(), "_____________________w");
        assert_eq!(format!("{key:?}"), "RefKey(\"_____________________w\")");
    }

    #[test]
    fn rejects_malformed() {
        for input in [
            "",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAA+",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAA AAAAAAAAAA",
            // Non-canonical: the last character carries bits beyond the 16th byte.
            "AAAAAAAAAAAAAAAAAAAAAB",
            "ÄAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(
                RefKey::parse(input).expect_err("invalid").code,
                "ref_key.format",
                "{input:?}"
            );
        }
    }

    #[test]
    fn serde_roundtrip_validates() {
        let key = RefKey::generate();
        let json = serde_json::to_string(&key).expect("serialize");
        let back: RefKey = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, key);
        assert!(serde_json::from_str::<RefKey>("\"short\"").is_err());
    }
}
