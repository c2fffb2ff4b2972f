//! The blind index: a keyed HMAC-SHA256 of a sensitive value, so that the hub can find the
//! record of a number by exact match without decrypting anything, while someone holding a copy
//! of the database but not the key cannot test guesses (12 digits are few enough to enumerate).

use std::fmt;

use hmac::{Hmac, Mac};
use sangam_domain::{IdNumber, MobileNumber};
use sha2::Sha256;

use crate::{DataKey, KeyPurpose, VaultError};

/// The HMAC key of the blind index. Not rotated with the data keys: rotating it means
/// recomputing every index, which is a separate, deliberate operation.
#[derive(Clone)]
pub struct BlindIndexKey {
    key: DataKey,
    /// HMAC state with the key already absorbed: cloning it saves re-keying on every index,
    /// which is most of the cost of an index over a short value.
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl BlindIndexKey {
    pub fn new(key: DataKey) -> Result<Self, VaultError> {
        if key.purpose() != KeyPurpose::BlindIndex {
            return Err(VaultError::Malformed(
                "an encryption key was given as blind-index key",
            ));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(key.bytes())
            .map_err(|_| VaultError::Malformed("blind-index key of an unusable length"))?;
        Ok(BlindIndexKey { key, keyed })
    }

    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    fn index(&self, kind: &[u8], value: &[u8]) -> BlindIndex {
        let mut mac = self.keyed.clone();
        // The kind separates domains: an ID number and a phone number with the same digits
        // must not share an index.
        mac.update(kind);
        mac.update(b":");
        mac.update(value);
        BlindIndex(mac.finalize().into_bytes().into())
    }

    pub fn id_number(&self, id: &IdNumber) -> BlindIndex {
        self.index(b"id_number", id.expose_digits().as_bytes())
    }

    pub fn mobile(&self, mobile: &MobileNumber) -> BlindIndex {
        self.index(b"mobile", mobile.expose_digits().as_bytes())
    }

    /// A keyed digest of a whole record's content, for telling a changed record from an
    /// unchanged one without keeping its values in clear. Keyed, because a plain hash of a
    /// short record could be reversed by trying every plausible value.
    pub fn record_digest(&self, kind: &str, content: &[u8]) -> [u8; 32] {
        let mut tagged = Vec::with_capacity(kind.len() + 7);
        tagged.extend_from_slice(b"record:");
        tagged.extend_from_slice(kind.as_bytes());
        *self.index(&tagged, content).as_bytes()
    }
}

/// The 32-byte output of the blind index.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex([u8; 32]);

impl BlindIndex {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| VaultError::Malformed("blind index is not 32 bytes"))?;
        Ok(BlindIndex(array))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindIndex({}…)", hex::encode(&self.0[..4]))
    }
}
