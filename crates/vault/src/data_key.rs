//! Data keys: random keys that do the actual encryption and indexing, stored only wrapped
//! (AES-256-GCM) under the master key. Wrapping keeps a future change of master key cheap
//! (rewrap these few keys, not every record); that rewrap is not implemented yet.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::{KEY_LEN, MasterKey, NONCE_LEN, VaultError};

/// What a data key is for. Part of the wrapping's associated data, so a blind-index key can
/// never be unwrapped as an encryption key or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    Encryption,
    BlindIndex,
}

impl KeyPurpose {
    pub fn code(self) -> &'static str {
        match self {
            KeyPurpose::Encryption => "encryption",
            KeyPurpose::BlindIndex => "blind_index",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "encryption" => Some(KeyPurpose::Encryption),
            "blind_index" => Some(KeyPurpose::BlindIndex),
            _ => None,
        }
    }
}

/// One version of a data key, in the clear (in memory only).
#[derive(Clone)]
pub struct DataKey {
    version: u32,
    purpose: KeyPurpose,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("version", &self.version)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl DataKey {
    pub fn generate(version: u32, purpose: KeyPurpose) -> Self {
        DataKey {
            version,
            purpose,
            key: crate::random_key(),
        }
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    fn associated_data(version: u32, purpose: KeyPurpose) -> Vec<u8> {
        format!("sangam:data-key:{}:v{version}", purpose.code()).into_bytes()
    }

    /// The key encrypted under `master`: nonce followed by ciphertext and tag.
    pub fn wrap(&self, master: &MasterKey) -> Vec<u8> {
        let cipher = Aes256Gcm::new(master.bytes().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = Self::associated_data(self.version, self.purpose);
        #[allow(
            clippy::expect_used,
            reason = "AES-GCM encryption of 32 bytes cannot fail"
        )]
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: self.key.as_ref(),
                    aad: &aad,
                },
            )
            .expect("in-memory AES-GCM encryption");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Unwraps a stored key. Failure means the master key is not the one that wrapped it.
    pub fn unwrap(
        master: &MasterKey,
        version: u32,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<Self, VaultError> {
        if wrapped.len() <= NONCE_LEN {
            return Err(VaultError::Malformed("wrapped data key too short"));
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(master.bytes().into());
        let aad = Self::associated_data(version, purpose);
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| VaultError::WrongMasterKey)?,
        );
        let key: [u8; KEY_LEN] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Malformed("wrapped data key has the wrong length"))?;
        Ok(DataKey {
            version,
            purpose,
            key: Zeroizing::new(key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_roundtrip_and_wrong_master_key() {
        let master = MasterKey::generate();
        let key = DataKey::generate(3, KeyPurpose::Encryption);
        let wrapped = key.wrap(&master);
        let back = DataKey::unwrap(&master, 3, KeyPurpose::Encryption, &wrapped).unwrap();
        assert_eq!(back.bytes(), key.bytes());

        let other = MasterKey::generate();
        assert_eq!(
            DataKey::unwrap(&other, 3, KeyPurpose::Encryption, &wrapped).unwrap_err(),
            VaultError::WrongMasterKey
        );
        // The version and purpose are bound into the wrapping.
        assert!(DataKey::unwrap(&master, 4, KeyPurpose::Encryption, &wrapped).is_err());
        assert!(DataKey::unwrap(&master, 3, KeyPurpose::BlindIndex, &wrapped).is_err());
        assert!(DataKey::unwrap(&master, 3, KeyPurpose::Encryption, &wrapped[..5]).is_err());
    }
}
