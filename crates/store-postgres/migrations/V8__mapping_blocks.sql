-- An upload's reference-key mapping is kept in blocks (one per chunk the hub loads), each a
-- JSON array of [seq, record_key, ref_key, id_masked, resident_id, outcome] entries, instead
-- of one row per entry: it is written once and only ever read back whole, in order (see
-- sangam_store::mapping_block). Existing mappings move over in blocks of 10,000.
CREATE TABLE upload_mapping_blocks (
    upload_id text   NOT NULL REFERENCES uploads (id),
    first_seq bigint NOT NULL,
    last_seq  bigint NOT NULL,
    entries   text   NOT NULL,
    PRIMARY KEY (upload_id, first_seq)
);
INSERT INTO upload_mapping_blocks (upload_id, first_seq, last_seq, entries)
    SELECT upload_id, min(seq), max(seq),
           json_agg(json_build_array(seq, record_key, ref_key, id_masked, resident_id, outcome)
                    ORDER BY seq)::text
    FROM upload_mapping
    GROUP BY upload_id, (seq - 1) / 10000;
DROP TABLE upload_mapping;
