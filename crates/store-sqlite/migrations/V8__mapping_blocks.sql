-- An upload's reference-key mapping is kept in blocks (one per chunk the hub loads), each a
-- JSON array of [seq, record_key, ref_key, id_masked, resident_id, outcome] entries, instead
-- of one row per entry: it is written once and only ever read back whole, in order, and a
-- million-row first load spent about a fifth of its writing time on a million mapping rows
-- (see sangam_store::mapping_block). Existing mappings move over in blocks of 10,000.
CREATE TABLE upload_mapping_blocks (
    upload_id TEXT    NOT NULL REFERENCES uploads (id),
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    entries   TEXT    NOT NULL,
    PRIMARY KEY (upload_id, first_seq)
) WITHOUT ROWID;
INSERT INTO upload_mapping_blocks (upload_id, first_seq, last_seq, entries)
    SELECT upload_id, min(seq), max(seq),
           json_group_array(json_array(seq, record_key, ref_key, id_masked, resident_id, outcome))
    FROM (SELECT * FROM upload_mapping ORDER BY upload_id, seq)
    GROUP BY upload_id, (seq - 1) / 10000;
DROP TABLE upload_mapping;
