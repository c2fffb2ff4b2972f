-- Sangam's embedded schema. Timestamps are RFC 3339 text in UTC at microsecond precision, so
-- they sort as text and read back exactly as written.

CREATE TABLE hub_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- ---------------------------------------------------------------- vault
CREATE TABLE vault_keys (
    purpose    TEXT    NOT NULL CHECK (purpose IN ('encryption', 'blind_index')),
    version    INTEGER NOT NULL,
    wrapped    BLOB    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('active', 'retired')),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (purpose, version)
);

CREATE TABLE vault_entries (
    ref_key     TEXT    PRIMARY KEY,
    blind_index BLOB    NOT NULL UNIQUE,
    key_version INTEGER NOT NULL,
    sealed      BLOB    NOT NULL,
    consent_ref TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
-- A rowid table: entries are appended, and only the small index entries (reference key,
-- blind index) land at random places. No index on key_version: rotation walks the vault once
-- in reference-key order instead.

-- ---------------------------------------------------------------- registry
CREATE TABLE households (
    card_number      TEXT    PRIMARY KEY,
    card_type        TEXT    NOT NULL,
    house_no         TEXT,
    street           TEXT,
    locality         TEXT,
    pincode          TEXT,
    village_code     INTEGER NOT NULL,
    head_resident_id TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    version          INTEGER NOT NULL
);
CREATE INDEX households_village ON households (village_code);

CREATE TABLE residents (
    resident_id        TEXT    PRIMARY KEY,
    card_number        TEXT    NOT NULL REFERENCES households (card_number),
    name               TEXT    NOT NULL,
    relative_name      TEXT,
    gender             TEXT    NOT NULL,
    dob                TEXT    NOT NULL,
    relationship       TEXT    NOT NULL,
    mobile_masked      TEXT,
    mobile_blind_index BLOB,
    id_ref_key         TEXT    UNIQUE REFERENCES vault_entries (ref_key),
    ekyc_status        TEXT    NOT NULL,
    life_status        TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    version            INTEGER NOT NULL
);
CREATE INDEX residents_card ON residents (card_number);
CREATE INDEX residents_mobile ON residents (mobile_blind_index) WHERE mobile_blind_index IS NOT NULL;

CREATE TABLE registry_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    field     TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    actor     TEXT NOT NULL,
    reason    TEXT,
    at        TEXT NOT NULL
);
CREATE INDEX registry_history_entity ON registry_history (entity, entity_id);

-- ---------------------------------------------------------------- audit
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
-- Append-only: the hub never updates or deletes an entry. Someone with write access to the
-- file can drop these triggers, which is what the hash chain is for.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- ---------------------------------------------------------------- jobs
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_at       TEXT    NOT NULL,
    locked_until TEXT,
    last_error   TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

-- ---------------------------------------------------------------- accounts
CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE api_clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
