-- The residents' rule that no two hold one reference key becomes an index of its own instead
-- of a constraint of the table (as V4 did for the vault's keys), so that a first load into an
-- empty registry can build it once at its commit from sorted keys instead of inserting a
-- million random keys one by one, and can append residents in the order of their own key.
-- Rebuilt the way SQLite changes a table's constraints; the store runs its migrations with
-- foreign keys off and checks them all afterwards (enrolments and links reference this table).
CREATE TABLE residents_v9 (
    resident_id        TEXT    PRIMARY KEY,
    card_number        TEXT    NOT NULL REFERENCES households (card_number),
    name               TEXT    NOT NULL,
    relative_name      TEXT,
    gender             TEXT    NOT NULL,
    dob                TEXT    NOT NULL,
    relationship       TEXT    NOT NULL,
    mobile_masked      TEXT,
    mobile_blind_index BLOB,
    id_ref_key         TEXT    REFERENCES vault_entries (ref_key),
    ekyc_status        TEXT    NOT NULL,
    life_status        TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    version            INTEGER NOT NULL
);

INSERT INTO residents_v9 SELECT * FROM residents ORDER BY rowid;
DROP TABLE residents;
ALTER TABLE residents_v9 RENAME TO residents;
CREATE UNIQUE INDEX residents_id_ref_key ON residents (id_ref_key);
CREATE INDEX residents_card ON residents (card_number);
CREATE INDEX residents_mobile ON residents (mobile_blind_index) WHERE mobile_blind_index IS NOT NULL;
