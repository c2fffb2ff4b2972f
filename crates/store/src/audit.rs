//! The audit log's hash chain, shared by every backend so that a log written by one process on
//! one backend verifies the same anywhere.
//!
//! Each entry's hash is SHA-256 over the previous entry's hash and the entry's fields, each
//! length-prefixed so that no two different entries can serialise to the same bytes.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::records::{AuditDraft, AuditEntry};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Timestamps are hashed at microsecond precision, the finest both backends keep.
pub fn canonical_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Truncates a timestamp to what the store keeps, so the hashed value is the stored value.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The hash of entry `seq` with the given fields, chained to `prev_hash`.
pub fn chain_hash(prev_hash: &str, seq: i64, draft: &AuditDraft) -> String {
    let mut hasher = Sha256::new();
    let time = canonical_time(&draft.at);
    let seq_text = seq.to_string();
    let fields: [&[u8]; 7] = [
        prev_hash.as_bytes(),
        seq_text.as_bytes(),
        time.as_bytes(),
        draft.actor.as_bytes(),
        draft.action.as_bytes(),
        draft.target.as_deref().unwrap_or("").as_bytes(),
        draft.details.as_bytes(),
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hex::encode(hasher.finalize())
}

/// Builds the entry that follows `previous` (or the first entry).
pub fn next_entry(previous: Option<(i64, &str)>, draft: &AuditDraft) -> AuditEntry {
    let (seq, prev_hash) = match previous {
        Some((seq, hash)) => (seq + 1, hash.to_owned()),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let draft = AuditDraft {
        at: truncate_to_micros(draft.at),
        ..draft.clone()
    };
    let hash = chain_hash(&prev_hash, seq, &draft);
    AuditEntry {
        seq,
        at: draft.at,
        actor: draft.actor,
        action: draft.action,
        target: draft.target,
        details: draft.details,
        prev_hash,
        hash,
    }
}

/// Why a link of the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BrokenLink {
    /// An entry is missing: sequence numbers jump.
    Gap { expected_seq: i64, found_seq: i64 },
    /// The entry does not point at the hash of the one before it.
    PrevHashMismatch { seq: i64 },
    /// The entry's content no longer matches its hash: it was altered.
    HashMismatch { seq: i64 },
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrokenLink::Gap {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "entry {expected_seq} is missing (the next entry found is {found_seq})"
            ),
            BrokenLink::PrevHashMismatch { seq } => {
                write!(
                    f,
                    "entry {seq} does not point at the hash of entry {}",
                    seq - 1
                )
            }
            BrokenLink::HashMismatch { seq } => {
                write!(
                    f,
                    "entry {seq} was altered: its content does not match its hash"
                )
            }
        }
    }
}

/// Walks a chain page by page; feed it entries in order.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    /// Checks the next entry; the first error is the first broken link.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), BrokenLink> {
        if entry.seq != self.expected_seq {
            return Err(BrokenLink::Gap {
                expected_seq: self.expected_seq,
                found_seq: entry.seq,
            });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(BrokenLink::PrevHashMismatch { seq: entry.seq });
        }
        let draft = AuditDraft {
            at: entry.at,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            target: entry.target.clone(),
            details: entry.details.clone(),
        };
        if chain_hash(&entry.prev_hash, entry.seq, &draft) != entry.hash {
            return Err(BrokenLink::HashMismatch { seq: entry.seq });
        }
        self.expected_seq += 1;
        self.prev_hash.clone_from(&entry.hash);
        self.checked += 1;
        Ok(())
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last entry checked: the head of the chain, worth writing down outside
    /// the hub so that a truncated log can be noticed too.
    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(action: &str) -> AuditDraft {
        AuditDraft {
            at: Utc::now(),
            actor: "admin".into(),
            action: action.into(),
            target: None,
            details: "{}".into(),
        }
    }

    #[test]
    fn a_chain_verifies_and_an_altered_entry_is_named() {
        let first = next_entry(None, &draft("a"));
        let second = next_entry(Some((first.seq, &first.hash)), &draft("b"));
        let third = next_entry(Some((second.seq, &second.hash)), &draft("c"));
        let mut verifier = ChainVerifier::default();
        for entry in [&first, &second, &third] {
            verifier.check(entry).unwrap();
        }
        assert_eq!(verifier.checked(), 3);

        let mut altered = second.clone();
        altered.actor = "mallory".into();
        let mut verifier = ChainVerifier::default();
        verifier.check(&first).unwrap();
        assert_eq!(
            verifier.check(&altered),
            Err(BrokenLink::HashMismatch { seq: 2 })
        );

        let mut verifier = ChainVerifier::default();
        verifier.check(&first).unwrap();
        assert_eq!(
            verifier.check(&third),
            Err(BrokenLink::Gap {
                expected_seq: 2,
                found_seq: 3
            })
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = draft("ab");
        a.actor = "x".into();
        let mut b = draft("b");
        b.actor = "xa".into();
        assert_ne!(
            chain_hash(GENESIS_HASH, 1, &a),
            chain_hash(GENESIS_HASH, 1, &b)
        );
    }
}
