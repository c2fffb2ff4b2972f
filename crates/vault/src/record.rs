//! Sealing of whole records other than ID numbers: rejected rows (which carry ID, mobile and
//! bank numbers as the officer typed them) and the sensitive fields of scheme records. The
//! same data keys as the vault, with associated data naming the record, so a ciphertext moved
//! to another record or another kind of record fails to open.

use zeroize::Zeroizing;

use crate::{KeyRing, Sealed, VaultError};

fn associated_data(kind: &str, id: &str) -> Vec<u8> {
    format!("sangam:record:{kind}:{id}").into_bytes()
}

impl KeyRing {
    /// Encrypts `plain` under the active key, bound to a record of `kind` named `id`.
    pub fn seal_record(&self, kind: &str, id: &str, plain: &[u8]) -> Sealed {
        self.encrypt(&associated_data(kind, id), plain)
    }

    /// Decrypts a record sealed by [`KeyRing::seal_record`] with the same kind and id.
    pub fn open_record(
        &self,
        kind: &str,
        id: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.decrypt(&associated_data(kind, id), sealed)
    }

    /// Re-encrypts a record under the active key (key rotation), with the same kind and id.
    /// Returns `None` when it is sealed with the active version already.
    pub fn reseal_record(
        &self,
        kind: &str,
        id: &str,
        sealed: &Sealed,
    ) -> Result<Option<Sealed>, VaultError> {
        if sealed.key_version == self.active_version() {
            return Ok(None);
        }
        let plain = self.open_record(kind, id, sealed)?;
        Ok(Some(self.seal_record(kind, id, &plain)))
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
    fn a_record_is_resealed_under_the_active_key_as_the_same_record() {
        let blind = BlindIndexKey::new(DataKey::generate(1, KeyPurpose::BlindIndex)).unwrap();
        let v1 = DataKey::generate(1, KeyPurpose::Encryption);
        let old = KeyRing::new(vec![v1.clone()], blind.clone()).unwrap();
        let sealed = old.seal_record("rejection", "u1:7", b"PY1,234123412346");
        let new = KeyRing::new(
            vec![v1, DataKey::generate(2, KeyPurpose::Encryption)],
            blind,
        )
        .unwrap();
        let resealed = new
            .reseal_record("rejection", "u1:7", &sealed)
            .unwrap()
            .unwrap();
        assert_eq!(resealed.key_version, 2);
        assert_eq!(
            &new.open_record("rejection", "u1:7", &resealed).unwrap()[..],
            b"PY1,234123412346"
        );
        assert_eq!(
            new.open_record("rejection", "u1:8", &resealed),
            Err(VaultError::Tampered),
            "still bound to its record"
        );
        assert_eq!(
            new.reseal_record("rejection", "u1:7", &resealed).unwrap(),
            None,
            "already at the active version"
        );
        assert_eq!(
            new.reseal_record("rejection", "u1:8", &sealed),
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
