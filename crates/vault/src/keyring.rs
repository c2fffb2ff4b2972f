//! The key ring: the unwrapped data keys of every live version plus the blind-index key, and
//! the sealing and opening of vault records with them.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, AeadInPlace, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use sangam_domain::{IdNumber, RefKey};
use zeroize::Zeroizing;

use crate::{BlindIndex, BlindIndexKey, DataKey, KeyPurpose, NONCE_LEN, VaultError};

/// The associated data of a sealed ID number, before its reference key.
const ID_NUMBER_AAD: &[u8] = b"sangam:vault:id_number:";
/// Length of the AES-GCM tag after the ciphertext.
const TAG_LEN: usize = 16;

/// A sealed value as stored: which key version sealed it, and nonce followed by ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_version: u32,
    pub blob: Vec<u8>,
}

/// Every encryption key the hub can still decrypt with, and the one it encrypts with now.
#[derive(Clone, Debug)]
pub struct KeyRing {
    active: u32,
    keys: BTreeMap<u32, DataKey>,
    /// The active key, expanded once: an upload seals a number per row, and expanding the
    /// key for each cost about as much as the encryption.
    sealer: Sealer,
    blind: BlindIndexKey,
}

/// AES-256-GCM keyed with the active data key. Its round keys are zeroized when it is
/// dropped (the `zeroize` feature of `aes`), as the data key's bytes are.
#[derive(Clone)]
struct Sealer(Aes256Gcm);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl KeyRing {
    /// Builds a ring whose active version is the highest given. Fails without encryption keys.
    pub fn new(keys: Vec<DataKey>, blind: BlindIndexKey) -> Result<Self, VaultError> {
        let mut map = BTreeMap::new();
        for key in keys {
            if key.purpose() != KeyPurpose::Encryption {
                return Err(VaultError::Malformed(
                    "a blind-index key was given as encryption key",
                ));
            }
            map.insert(key.version(), key);
        }
        let (&active, key) = map
            .last_key_value()
            .ok_or(VaultError::Malformed("no encryption key"))?;
        let sealer = Sealer(Aes256Gcm::new(key.bytes().into()));
        Ok(KeyRing {
            active,
            keys: map,
            sealer,
            blind,
        })
    }

    pub fn active_version(&self) -> u32 {
        self.active
    }

    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    pub fn blind_index_key(&self) -> &BlindIndexKey {
        &self.blind
    }

    pub fn blind_index(&self, id: &IdNumber) -> BlindIndex {
        self.blind.id_number(id)
    }

    /// The associated data binds a record to its reference key: moving a ciphertext to another
    /// row makes it fail authentication instead of revealing a number under the wrong key.
    fn associated_data(ref_key: &RefKey) -> Vec<u8> {
        [ID_NUMBER_AAD, ref_key.as_str().as_bytes()].concat()
    }

    /// Encrypts an ID number under the active key, bound to `ref_key`.
    pub fn seal(&self, ref_key: &RefKey, id: &IdNumber) -> Sealed {
        self.encrypt(
            &Self::associated_data(ref_key),
            id.expose_digits().as_bytes(),
        )
    }

    /// Decrypts a record sealed for `ref_key` with any version still in the ring.
    pub fn open(&self, ref_key: &RefKey, sealed: &Sealed) -> Result<IdNumber, VaultError> {
        let plain = self.decrypt(&Self::associated_data(ref_key), sealed)?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| VaultError::Malformed("decrypted value is not text"))?;
        IdNumber::parse(text)
            .map_err(|_| VaultError::Malformed("decrypted value is not an ID number"))
    }

    /// AES-256-GCM under the active key with a fresh random nonce; the blob is the nonce
    /// followed by the ciphertext. Every sealed value of the hub goes through here.
    pub(crate) fn encrypt(&self, aad: &[u8], plain: &[u8]) -> Sealed {
        // One allocation: the nonce, then the plaintext encrypted in place, then the tag.
        let mut blob = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
        blob.resize(NONCE_LEN, 0);
        rand::rng().fill_bytes(&mut blob);
        blob.extend_from_slice(plain);
        let (nonce, text) = blob.split_at_mut(NONCE_LEN);
        #[allow(
            clippy::expect_used,
            reason = "AES-GCM in memory fails only past 64 GiB"
        )]
        let tag = self
            .sealer
            .0
            .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, text)
            .expect("in-memory AES-GCM encryption");
        blob.extend_from_slice(&tag);
        Sealed {
            key_version: self.active,
            blob,
        }
    }

    /// Opens what [`KeyRing::encrypt`] sealed with the same associated data, with any version
    /// still in the ring.
    pub(crate) fn decrypt(
        &self,
        aad: &[u8],
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let key = self
            .keys
            .get(&sealed.key_version)
            .ok_or(VaultError::UnknownKeyVersion(sealed.key_version))?;
        if sealed.blob.len() <= NONCE_LEN {
            return Err(VaultError::Malformed("sealed record too short"));
        }
        let (nonce, ciphertext) = sealed.blob.split_at(NONCE_LEN);
        Aes256Gcm::new(key.bytes().into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Tampered)
    }

    /// Re-encrypts a record under the active key (key rotation). Returns `None` when it is
    /// already sealed with the active version.
    pub fn reseal(&self, ref_key: &RefKey, sealed: &Sealed) -> Result<Option<Sealed>, VaultError> {
        if sealed.key_version == self.active {
            return Ok(None);
        }
        let id = self.open(ref_key, sealed)?;
        Ok(Some(self.seal(ref_key, &id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(versions: &[u32]) -> KeyRing {
        let keys = versions
            .iter()
            .map(|v| DataKey::generate(*v, KeyPurpose::Encryption))
            .collect();
        let blind = BlindIndexKey::new(DataKey::generate(1, KeyPurpose::BlindIndex)).unwrap();
        KeyRing::new(keys, blind).unwrap()
    }

    fn id() -> IdNumber {
        IdNumber::from_eleven_digits("23456789012").unwrap()
    }

    #[test]
    fn seal_open_roundtrip() {
        let ring = ring(&[1]);
        let rk = RefKey::generate();
        let sealed = ring.seal(&rk, &id());
        assert_eq!(sealed.key_version, 1);
        assert_eq!(
            ring.open(&rk, &sealed).unwrap().expose_digits(),
            id().expose_digits()
        );
        // The plaintext digits do not appear in the blob.
        let needle = id().expose_digits().as_bytes().to_vec();
        assert!(!sealed.blob.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn ciphertext_moved_to_another_ref_key_fails() {
        let ring = ring(&[1]);
        let sealed = ring.seal(&RefKey::generate(), &id());
        assert_eq!(
            ring.open(&RefKey::generate(), &sealed).unwrap_err(),
            VaultError::Tampered
        );
    }

    #[test]
    fn flipped_bit_fails() {
        let ring = ring(&[1]);
        let rk = RefKey::generate();
        let mut sealed = ring.seal(&rk, &id());
        let last = sealed.blob.len() - 1;
        sealed.blob[last] ^= 1;
        assert_eq!(ring.open(&rk, &sealed).unwrap_err(), VaultError::Tampered);
    }

    #[test]
    fn rotation_reseals_under_the_newest_version_and_old_versions_still_open() {
        let old = ring(&[1]);
        let rk = RefKey::generate();
        let sealed_v1 = old.seal(&rk, &id());
        let mut keys: Vec<DataKey> = old.keys.values().cloned().collect();
        keys.push(DataKey::generate(2, KeyPurpose::Encryption));
        let new = KeyRing::new(keys, old.blind.clone()).unwrap();
        assert_eq!(new.active_version(), 2);
        assert!(new.open(&rk, &sealed_v1).is_ok());
        let sealed_v2 = new.reseal(&rk, &sealed_v1).unwrap().unwrap();
        assert_eq!(sealed_v2.key_version, 2);
        assert!(new.reseal(&rk, &sealed_v2).unwrap().is_none());
        assert_eq!(
            old.open(&rk, &sealed_v2).unwrap_err(),
            VaultError::UnknownKeyVersion(2)
        );
    }

    #[test]
    fn blind_index_is_deterministic_and_keyed() {
        let a = ring(&[1]);
        let b = ring(&[1]);
        assert_eq!(a.blind_index(&id()), a.blind_index(&id()));
        assert_ne!(a.blind_index(&id()), b.blind_index(&id()));
        let other = IdNumber::from_eleven_digits("98765432109").unwrap();
        assert_ne!(a.blind_index(&id()), a.blind_index(&other));
    }
}
