-- An upload's mapping and rejected rows are only ever read by (upload_id, line or seq): kept
-- in that key's own B-tree (WITHOUT ROWID), each row is written once instead of twice (a
-- rowid table plus its primary-key index). A million-row base upload writes a million
-- mapping rows, and this saved the 50 MB index and one B-tree insert per row.

CREATE TABLE upload_rejections_v4 (
    upload_id   TEXT    NOT NULL REFERENCES uploads (id),
    line        INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    sealed      BLOB    NOT NULL,
    PRIMARY KEY (upload_id, line)
) WITHOUT ROWID;
INSERT INTO upload_rejections_v4 (upload_id, line, key_version, sealed)
    SELECT upload_id, line, key_version, sealed FROM upload_rejections;
DROP TABLE upload_rejections;
ALTER TABLE upload_rejections_v4 RENAME TO upload_rejections;

CREATE TABLE upload_mapping_v4 (
    upload_id   TEXT    NOT NULL REFERENCES uploads (id),
    seq         INTEGER NOT NULL,
    record_key  TEXT    NOT NULL,
    ref_key     TEXT,
    id_masked   TEXT,
    resident_id TEXT,
    outcome     TEXT    NOT NULL
        CHECK (outcome IN ('added', 'modified', 'unchanged', 'deleted')),
    PRIMARY KEY (upload_id, seq)
) WITHOUT ROWID;
INSERT INTO upload_mapping_v4 (upload_id, seq, record_key, ref_key, id_masked, resident_id, outcome)
    SELECT upload_id, seq, record_key, ref_key, id_masked, resident_id, outcome FROM upload_mapping;
DROP TABLE upload_mapping;
ALTER TABLE upload_mapping_v4 RENAME TO upload_mapping;

-- The vault's uniqueness rules become indexes of their own instead of constraints of the
-- table, so that a first load into an empty vault can build the reference-key index once at
-- its commit instead of inserting a million random keys one by one (the blind-index one
-- stays: it finds an ID number sent twice as the rows arrive). Rebuilt the way SQLite
-- changes a table's constraints; the store runs its migrations with foreign keys off and
-- checks them all afterwards, since residents and enrolments reference this table.
CREATE TABLE vault_entries_v4 (
    ref_key     TEXT    NOT NULL,
    blind_index BLOB    NOT NULL,
    key_version INTEGER NOT NULL,
    sealed      BLOB    NOT NULL,
    consent_ref TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
INSERT INTO vault_entries_v4 (ref_key, blind_index, key_version, sealed, consent_ref, created_at)
    SELECT ref_key, blind_index, key_version, sealed, consent_ref, created_at
    FROM vault_entries ORDER BY rowid;
DROP TABLE vault_entries;
ALTER TABLE vault_entries_v4 RENAME TO vault_entries;
CREATE UNIQUE INDEX vault_entries_ref_key ON vault_entries (ref_key);
CREATE UNIQUE INDEX vault_entries_blind_index ON vault_entries (blind_index);
