//! Client secrets, and the keyed hashes the hub stores instead of them.
//!
//! A secret is shown to the application's administrator once, when it is created; the hub
//! keeps only HMAC-SHA256 of it under a server-held key. A stolen copy of the database thus
//! neither reveals the secrets nor allows guessing them offline without that key, and as the
//! secrets are 256-bit random values a slow password hash would add nothing.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::{Zeroize as _, Zeroizing};

/// Marks our secrets so that secret scanners (and people) recognise a leaked one.
pub const SECRET_PREFIX: &str = "sgs_";

/// Random bytes in a secret: 256 bits.
const SECRET_BYTES: usize = 32;

/// Length of the base64url (unpadded) text of [`SECRET_BYTES`] bytes.
const SECRET_TEXT_LENGTH: usize = (SECRET_BYTES * 8).div_ceil(6);

/// Why a presented secret was refused before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the client secret is not in the expected format (\"sgs_\" followed by 43 base64url characters)"
    )]
    Malformed,
}

impl SecretError {
    /// A stable identifier for API error bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            SecretError::Malformed => "secret.malformed",
        }
    }
}

/// A client secret in clear: freshly generated, or as presented by a client. Wiped from
/// memory when dropped, and never shown by `Debug`.
pub struct ClientSecret(String);

impl ClientSecret {
    /// A new random secret: `sgs_` and 32 random bytes in base64url without padding.
    pub fn generate() -> ClientSecret {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        rand::rng().fill_bytes(bytes.as_mut());
        let mut text = String::with_capacity(SECRET_PREFIX.len() + SECRET_TEXT_LENGTH);
        text.push_str(SECRET_PREFIX);
        URL_SAFE_NO_PAD.encode_string(bytes.as_ref(), &mut text);
        ClientSecret(text)
    }

    /// A secret presented by a client, refused early (and without a timing-sensitive lookup)
    /// when it cannot be one of ours.
    pub fn parse(presented: &str) -> Result<ClientSecret, SecretError> {
        if looks_like_secret(presented) {
            Ok(ClientSecret(presented.to_owned()))
        } else {
            Err(SecretError::Malformed)
        }
    }

    /// The secret in clear: to show once at creation, or to hash. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for ClientSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

/// Whether `s` has the shape of a secret from [`ClientSecret::generate`]: the prefix, then
/// exactly the canonical base64url text of 32 bytes.
pub fn looks_like_secret(s: &str) -> bool {
    let Some(encoded) = s.strip_prefix(SECRET_PREFIX) else {
        return false;
    };
    if encoded.len() != SECRET_TEXT_LENGTH {
        return false;
    }
    // The decoder also refuses non-canonical trailing bits, so that one secret has one text.
    let mut decoded = Zeroizing::new([0u8; SECRET_BYTES + 3]);
    matches!(
        URL_SAFE_NO_PAD.decode_slice(encoded, decoded.as_mut()),
        Ok(SECRET_BYTES)
    )
}

/// Hashes client secrets with HMAC-SHA256 under the hub's secret-hashing key.
pub struct SecretHasher {
    key: [u8; 32],
}

impl SecretHasher {
    /// A hasher with this key (kept sealed in the hub's vault). The key is wiped on drop.
    pub fn new(key: [u8; 32]) -> SecretHasher {
        SecretHasher { key }
    }

    /// The keyed hash to store for `secret`.
    pub fn hash(&self, secret: &str) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `secret` hashes to `stored`, compared in constant time. A stored value of the
    /// wrong length never matches.
    pub fn matches(&self, secret: &str, stored: &[u8]) -> bool {
        if stored.len() != 32 {
            return false;
        }
        self.hash(secret).ct_eq(stored).into()
    }
}

impl Drop for SecretHasher {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_keys_give_different_hashes() {
        let secret = ClientSecret::generate();
        let a = SecretHasher::new([1u8; 32]);
        let b = SecretHasher::new([2u8; 32]);
        assert_ne!(a.hash(secret.expose()), b.hash(secret.expose()));
        assert_eq!(a.hash(secret.expose()), a.hash(secret.expose()));
    }

    #[test]
    fn matches_only_the_right_secret() {
        let hasher = SecretHasher::new([9u8; 32]);
        let secret = ClientSecret::generate();
        let stored = hasher.hash(secret.expose());
        assert!(hasher.matches(secret.expose(), &stored));
        assert!(!hasher.matches(ClientSecret::generate().expose(), &stored));
        assert!(!hasher.matches(secret.expose(), &stored[..31]));
        assert!(!hasher.matches(secret.expose(), &[]));
        let mut longer = stored.to_vec();
        longer.push(0);
        assert!(!hasher.matches(secret.expose(), &longer));
        // Another key's hash of the same secret does not match.
        assert!(!SecretHasher::new([8u8; 32]).matches(secret.expose(), &stored));
    }

    #[test]
    fn hash_is_hmac_sha256() {
        // RFC 4231 test case 2.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let hasher = SecretHasher::new(key);
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = hasher
            .hash("what do ya want for nothing?")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn debug_hides_secrets() {
        let secret = ClientSecret::generate();
        assert_eq!(format!("{secret:?}"), "ClientSecret(..)");
        assert_eq!(
            format!("{:?}", SecretHasher::new([5u8; 32])),
            "SecretHasher(..)"
        );
    }

    #[test]
    fn generated_secrets_are_long_random_and_recognisable() {
        let a = ClientSecret::generate();
        let b = ClientSecret::generate();
        assert_ne!(a.expose(), b.expose());
        let encoded = a.expose().strip_prefix("sgs_").expect("prefix");
        // 43 base64 characters carry 258 bits, of which 256 are the random bytes.
        assert_eq!(encoded.len(), 43);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(encoded).expect("base64url").len(),
            32
        );
        assert!(looks_like_secret(a.expose()));
        assert!(ClientSecret::parse(a.expose()).is_ok());
    }

    #[test]
    fn junk_does_not_look_like_a_secret() {
        let good = ClientSecret::generate();
        let body = &good.expose()[4..];
        for junk in [
            String::new(),
            "sgs_".to_owned(),
            body.to_owned(),
            format!("sgx_{body}"),
            format!("sgs_{}", &body[1..]),
            format!("sgs_{body}A"),
            format!("sgs_{}+", &body[1..]),
            format!("sgs_{}=", &body[1..]),
            format!("sgs_{} ", &body[1..]),
            // The last character of 32 bytes carries 2 unused bits; they must be zero.
            format!("sgs_{}B", &body[..42]),
        ] {
            assert!(!looks_like_secret(&junk), "{junk:?}");
        }
        assert_eq!(
            ClientSecret::parse("nope").map(|_| ()),
            Err(SecretError::Malformed)
        );
        assert_eq!(SecretError::Malformed.code(), "secret.malformed");
    }
}
