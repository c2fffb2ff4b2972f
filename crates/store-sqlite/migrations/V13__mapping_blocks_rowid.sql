-- The mapping's blocks move to a table with rowids. A block is the mapping of one chunk of an
-- upload, about a megabyte of text, and in a table WITHOUT ROWID a row is its key's entry in
-- the B-tree: every insert compared its key with the blocks on its way down, and SQLite reads
-- an entry in full, from its overflow pages, to compare it. A million-row load read some
-- hundreds of megabytes so. In a table with rowids the index holds only the key, and the
-- text stays in the row, read only by whoever asks for the mapping.
CREATE TABLE upload_mapping_blocks_v13 (
    upload_id TEXT    NOT NULL REFERENCES uploads (id),
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    entries   TEXT    NOT NULL,
    PRIMARY KEY (upload_id, first_seq)
);
INSERT INTO upload_mapping_blocks_v13 (upload_id, first_seq, last_seq, entries)
    SELECT upload_id, first_seq, last_seq, entries FROM upload_mapping_blocks
    ORDER BY upload_id, first_seq;
DROP TABLE upload_mapping_blocks;
ALTER TABLE upload_mapping_blocks_v13 RENAME TO upload_mapping_blocks;
