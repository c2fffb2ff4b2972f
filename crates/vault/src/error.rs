//! Errors of the vault's cryptography, worded so that an operator knows what to do next.

use std::path::PathBuf;

/// A failure to seal, open or unwrap. Messages never include key material or plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error(
        "the master key does not unwrap the stored data keys: this is not the key this hub was created with"
    )]
    WrongMasterKey,
    #[error("data key version {0} is not loaded (retired, or created by a newer process)")]
    UnknownKeyVersion(u32),
    #[error(
        "a vault record failed authentication: it was altered, or moved to another reference key"
    )]
    Tampered,
    #[error("a vault record is malformed: {0}")]
    Malformed(&'static str),
}

/// A failure to read, create or parse the master key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read the master key file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot create the master key file {path}: {error}")]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the master key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error(
        "the master key {origin} is not a 32-byte key encoded as base64 or 64 hexadecimal digits"
    )]
    Malformed { origin: String },
}
