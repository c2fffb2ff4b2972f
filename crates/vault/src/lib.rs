//! Cryptography of the ID-number vault.
//!
//! The hub keeps national ID numbers only as ciphertext. The key hierarchy is:
//!
//! - a **master key** (key-encryption key) that never enters the store: it lives in a key file
//!   created with 0600 permissions, or comes from the environment or a `*_FILE` secret;
//! - **data keys**, random AES-256 keys stored in the hub's database only *wrapped* (encrypted)
//!   by the master key, each with a version so that keys can be rotated;
//! - a **blind-index key**, also wrapped by the master key, for keyed HMAC-SHA256 lookups of a
//!   number without decrypting anything.
//!
//! Every ciphertext is AES-256-GCM with the reference key as associated data, so a ciphertext
//! copied onto another row fails to decrypt. This crate does no database I/O: the hub's vault
//! service stores what it produces.

mod blind_index;
mod data_key;
mod error;
mod keyring;
mod master_key;
mod record;

pub use blind_index::{BlindIndex, BlindIndexKey};
pub use data_key::{DataKey, KeyPurpose};
pub use error::{KeyFileError, VaultError};
pub use keyring::{KeyRing, Sealed};
pub use master_key::{KeyFingerprint, MasterKey};

/// Length in bytes of every symmetric key in the vault (AES-256, HMAC-SHA256).
pub const KEY_LEN: usize = 32;
/// Length in bytes of an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;

/// 32 random bytes from the thread-local CSPRNG (ChaCha, seeded and reseeded from the OS).
pub(crate) fn random_key() -> zeroize::Zeroizing<[u8; KEY_LEN]> {
    use rand::RngCore;
    let mut bytes = zeroize::Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(bytes.as_mut());
    bytes
}
