//! The master key: loading it from a file or a string, creating the key file on first run,
//! and the fingerprint the store records so that a hub refuses to start with another key.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{KEY_LEN, KeyFileError};

/// The key-encryption key. Its bytes are wiped on drop and never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// A short, non-secret digest of the master key, stored by the hub to recognise its own key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFingerprint(String);

impl KeyFingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for KeyFingerprint {
    fn from(s: String) -> Self {
        KeyFingerprint(s)
    }
}

impl MasterKey {
    /// A fresh random key from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> Self {
        MasterKey(crate::random_key())
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        MasterKey(Zeroizing::new(bytes))
    }

    /// Parses a key given as base64 (standard or URL-safe) or as 64 hexadecimal digits.
    /// `origin` names where it came from (a file path, an environment variable) for the error.
    pub fn from_encoded(text: &str, origin: &str) -> Result<Self, KeyFileError> {
        let text = text.trim();
        let malformed = || KeyFileError::Malformed {
            origin: origin.to_owned(),
        };
        let decoded: Zeroizing<Vec<u8>> = if text.len() == 2 * KEY_LEN {
            Zeroizing::new(hex::decode(text).map_err(|_| malformed())?)
        } else {
            let trimmed = text.trim_end_matches('=');
            let bytes = URL_SAFE_NO_PAD
                .decode(trimmed)
                .or_else(|_| STANDARD.decode(text))
                .map_err(|_| malformed())?;
            Zeroizing::new(bytes)
        };
        let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| malformed())?;
        Ok(MasterKey::from_bytes(bytes))
    }

    /// The key in the form written to key files: URL-safe base64 without padding.
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// `hmac-sha256:` and the first 16 bytes of HMAC(key, label), in hex. A keyed digest
    /// rather than a plain hash so that the fingerprint is useless for guessing the key.
    pub fn fingerprint(&self) -> KeyFingerprint {
        #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_ref()).expect("any key length");
        mac.update(b"sangam master key fingerprint v1");
        let digest = mac.finalize().into_bytes();
        KeyFingerprint(format!("hmac-sha256:{}", hex::encode(&digest[..16])))
    }

    /// Reads a key file, refusing one that other users could read.
    pub fn load_file(path: &Path) -> Result<Self, KeyFileError> {
        check_permissions(path)?;
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
                    path: path.to_owned(),
                    error: source,
                })?,
            );
        MasterKey::from_encoded(&text, &format!("in {}", path.display()))
    }

    /// Creates a new key file with mode 0600. Fails if the file already exists, so that an
    /// existing key is never overwritten.
    pub fn create_file(path: &Path) -> Result<Self, KeyFileError> {
        let key = MasterKey::generate();
        let create_err = |source| KeyFileError::Create {
            path: path.to_owned(),
            error: source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(create_err)?;
        let mut encoded = key.encode();
        encoded.push('\n');
        file.write_all(encoded.as_bytes()).map_err(create_err)?;
        file.sync_all().map_err(create_err)?;
        Ok(key)
    }

    /// Loads the key file, or creates it when it does not exist. Returns whether it was created.
    pub fn load_or_create_file(path: &Path) -> Result<(Self, bool), KeyFileError> {
        match MasterKey::create_file(path) {
            Ok(key) => Ok((key, true)),
            Err(KeyFileError::Create { error, .. })
                if error.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Ok((MasterKey::load_file(path)?, false))
            }
            Err(other) => Err(other),
        }
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        error: source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_roundtrip_and_fingerprint_is_stable() {
        let key = MasterKey::generate();
        let again = MasterKey::from_encoded(&key.encode(), "test").unwrap();
        assert_eq!(key.fingerprint(), again.fingerprint());
        let hexed = hex::encode(key.bytes());
        assert_eq!(
            MasterKey::from_encoded(&hexed, "test")
                .unwrap()
                .fingerprint(),
            key.fingerprint()
        );
        assert_ne!(MasterKey::generate().fingerprint(), key.fingerprint());
        assert!(!format!("{key:?}").contains(key.encode().as_str()));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "short", "zz", &"a".repeat(63)] {
            assert!(matches!(
                MasterKey::from_encoded(bad, "test"),
                Err(KeyFileError::Malformed { .. })
            ));
        }
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_private_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (created, was_new) = MasterKey::load_or_create_file(&path).unwrap();
        assert!(was_new);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (loaded, was_new) = MasterKey::load_or_create_file(&path).unwrap();
        assert!(!was_new);
        assert_eq!(created.fingerprint(), loaded.fingerprint());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load_file(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::InsecurePermissions { mode: 0o644, .. }),
            "{err}"
        );
    }
}
