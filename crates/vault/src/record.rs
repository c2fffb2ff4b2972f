//! Sealing of whole records other than ID numbers: rejected rows (which carry ID, mobile and
//! bank numbers as the officer typed them) and the sensitive fields of scheme records. The
//! same data keys as the vault, with associated data naming the record, so a ciphertext moved
//! to another record or another kind of record fails to open.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::{KeyRing, NONCE_LEN, Sealed, VaultError};

fn associated_data(kind: &str, id: &str) -> Vec<u8> {
    format!("sangam:record:{kind}:{id}").into_bytes()
}

impl KeyRing {
    /// Encrypts `plain` under the active key, bound to a record of `kind` named `id`.
    pub fn seal_record(&self, kind: &str, id: &str, plain: &[u8]) -> Sealed {
        let version = self.active_version();
        #[allow(
            clippy::expect_used,
            reason = "the active version is always in the ring"
        )]
        let key = self.data_key(version).expect("active key in the ring");
        let cipher = Aes256Gcm::new(key.bytes().into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(kind, id);
        #[allow(
            clippy::expect_used,
            reason = "AES-GCM encryption in memory fails only past 64 GiB"
        )]
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("in-memory AES-GCM encryption");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Sealed {
            key_version: version,
            blob,
        }
    }

    /// Decrypts a record sealed by [`KeyRing::seal_record`] with the same kind and id.
    pub fn open_record(
        &self,
        kind: &str,
        id: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let key = self
            .data_key(sealed.key_version)
            .ok_or(VaultError::UnknownKeyVersion(sealed.key_version))?;
        if sealed.blob.len() < NONCE_LEN {
            return Err(VaultError::Malformed("sealed record too short"));
        }
        let (nonce, ciphertext) = sealed.blob.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(key.bytes().into());
        let aad = associated_data(kind, id);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| VaultError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use crate::{BlindIndexKey, DataKey, KeyPurpose, KeyRing, VaultError};

    fn ring() -> KeyRing {
        let blind = BlindIndexKey::new(DataKey::generate(1, KeyPurpose::BlindIndex)).unwrap();
        KeyRing::new(vec![DataKey::generate(1, KeyPurpose::Encryption)], blind).unwrap()
    }

    #[test]
    fn a_record_opens_only_as_the_record_it_was_sealed_for() {
        let ring = ring();
        let sealed = ring.seal_record("rejection", "u1:7", b"PY1,234123412346");
        assert!(!sealed.blob.windows(12).any(|w| w == b"234123412346"));
        assert_eq!(
            &ring.open_record("rejection", "u1:7", &sealed).unwrap()[..],
            b"PY1,234123412346"
        );
        assert_eq!(
            ring.open_record("rejection", "u1:8", &sealed),
            Err(VaultError::Tampered)
        );
        assert_eq!(
            ring.open_record("enrolment", "u1:7", &sealed),
            Err(VaultError::Tampered)
        );
        let mut flipped = sealed.clone();
        let last = flipped.blob.len() - 1;
        flipped.blob[last] ^= 1;
        assert_eq!(
            ring.open_record("rejection", "u1:7", &flipped),
            Err(VaultError::Tampered)
        );
    }

    #[test]
    fn record_digests_are_keyed_and_separate_kinds() {
        let a = ring();
        let b = ring();
        let d = a.blind_index_key().record_digest("enrolment", b"x");
        assert_eq!(d, a.blind_index_key().record_digest("enrolment", b"x"));
        assert_ne!(d, a.blind_index_key().record_digest("other", b"x"));
        assert_ne!(d, b.blind_index_key().record_digest("enrolment", b"x"));
    }
}
