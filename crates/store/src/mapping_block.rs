//! How an upload's reference-key mapping is stored: in blocks of entries (one block per
//! chunk the hub loads), each block one JSON array of `[seq, record_key, ref_key, id_masked,
//! resident_id, outcome]` arrays, instead of one table row per entry.
//!
//! The mapping is written once, inside the load, and only ever read back whole, in order, by
//! the uploading organisation. As rows it was the most written table of a first load: a
//! million-row base upload wrote a million index entries for it, about a fifth of the load
//! thread's time on SQLite. As blocks it is a hundred inserts, encoded off the writer's path.
//! Both backends store the same text, so the encoding lives here once.

use sangam_domain::RefKey;

use crate::raw::ref_key;
use crate::{MappingEntry, StoreError, StoreResult};

/// One entry as the block's JSON holds it, written.
type Stored<'a> = (
    u64,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
);

/// One entry as the block's JSON holds it, read (owned: a key may hold escaped characters).
type Read = (
    u64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// One block: its first and last sequence numbers and its text.
#[derive(Debug)]
pub struct Block {
    pub first_seq: u64,
    pub last_seq: u64,
    pub entries: String,
}

/// Encodes entries as one block; `None` for no entries.
pub fn encode(entries: &[MappingEntry]) -> StoreResult<Option<Block>> {
    let (Some(first_seq), Some(last_seq)) = (
        entries.iter().map(|m| m.seq).min(),
        entries.iter().map(|m| m.seq).max(),
    ) else {
        return Ok(None);
    };
    let stored: Vec<Stored<'_>> = entries
        .iter()
        .map(|m| {
            (
                m.seq,
                m.record_key.as_str(),
                m.ref_key.as_ref().map(RefKey::as_str),
                m.id_masked.as_deref(),
                m.resident_id.as_deref(),
                m.outcome.as_str(),
            )
        })
        .collect();
    let text = serde_json::to_string(&stored)
        .map_err(|e| StoreError::Backend(format!("encoding a mapping block: {e}")))?;
    Ok(Some(Block {
        first_seq,
        last_seq,
        entries: text,
    }))
}

/// Appends to `out` the entries of a stored block that come after `after`, in sequence order,
/// until `out` holds `limit` entries.
pub fn decode_into(
    text: &str,
    after: u64,
    limit: usize,
    out: &mut Vec<MappingEntry>,
) -> StoreResult<()> {
    let mut stored: Vec<Read> = serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt("upload_mapping_blocks.entries", e))?;
    stored.sort_unstable_by_key(|s| s.0);
    for (seq, record_key, rk, id_masked, resident_id, outcome) in stored {
        if out.len() >= limit {
            break;
        }
        if seq <= after {
            continue;
        }
        out.push(MappingEntry {
            seq,
            record_key,
            ref_key: rk
                .map(|k| ref_key("upload_mapping_blocks.ref_key", &k))
                .transpose()?,
            id_masked,
            resident_id,
            outcome,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, with_key: bool) -> MappingEntry {
        MappingEntry {
            seq,
            record_key: format!("card \"{seq}\", with, commas"),
            ref_key: with_key.then(RefKey::generate),
            id_masked: with_key.then(|| "XXXX XXXX 1234".to_owned()),
            resident_id: Some(format!("r{seq}")),
            outcome: "added".into(),
        }
    }

    #[test]
    fn a_block_reads_back_as_written_from_any_point() {
        let entries: Vec<MappingEntry> = (1..=5).map(|i| entry(i, i % 2 == 0)).collect();
        let block = encode(&entries).unwrap().unwrap();
        assert_eq!((block.first_seq, block.last_seq), (1, 5));
        let mut all = Vec::new();
        decode_into(&block.entries, 0, 100, &mut all).unwrap();
        assert_eq!(all, entries);
        let mut page = Vec::new();
        decode_into(&block.entries, 2, 2, &mut page).unwrap();
        assert_eq!(page, entries[2..4].to_vec());
        assert!(encode(&[]).unwrap().is_none());
    }

    #[test]
    fn a_damaged_block_is_corrupt_data_not_a_panic() {
        let mut out = Vec::new();
        let err = decode_into("[[1, \"k\"", 0, 10, &mut out).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        let err = decode_into(
            "[[1,\"k\",\"not a key\",null,null,\"added\"]]",
            0,
            10,
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}
