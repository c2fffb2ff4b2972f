-- Sangam's PostgreSQL schema: the same tables and columns as the embedded SQLite schema, with
-- native types. Times are TIMESTAMPTZ (microsecond precision, which is what the hub keeps and
-- hashes), blobs BYTEA.

CREATE TABLE hub_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- ---------------------------------------------------------------- vault
CREATE TABLE vault_keys (
    purpose    TEXT        NOT NULL CHECK (purpose IN ('encryption', 'blind_index')),
    version    BIGINT      NOT NULL CHECK (version >= 0),
    wrapped    BYTEA       NOT NULL,
    status     TEXT        NOT NULL CHECK (status IN ('active', 'retired')),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (purpose, version)
);

CREATE TABLE vault_entries (
    -- Byte order, like SQLite's: rotation pages through the vault in this order by index.
    ref_key     TEXT        COLLATE "C" PRIMARY KEY,
    blind_index BYTEA       NOT NULL UNIQUE,
    key_version BIGINT      NOT NULL CHECK (key_version >= 0),
    sealed      BYTEA       NOT NULL,
    consent_ref TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
-- No index on key_version: rotation walks the vault once in reference-key order instead.

-- ---------------------------------------------------------------- registry
CREATE TABLE households (
    card_number      TEXT        PRIMARY KEY,
    card_type        TEXT        NOT NULL,
    house_no         TEXT,
    street           TEXT,
    locality         TEXT,
    pincode          TEXT,
    village_code     BIGINT      NOT NULL,
    head_resident_id TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    version          BIGINT      NOT NULL
);
CREATE INDEX households_village ON households (village_code);

CREATE TABLE residents (
    resident_id        TEXT        PRIMARY KEY,
    card_number        TEXT        NOT NULL REFERENCES households (card_number),
    name               TEXT        NOT NULL,
    relative_name      TEXT,
    gender             TEXT        NOT NULL,
    dob                TEXT        NOT NULL,
    relationship       TEXT        NOT NULL,
    mobile_masked      TEXT,
    mobile_blind_index BYTEA,
    id_ref_key         TEXT        UNIQUE REFERENCES vault_entries (ref_key),
    ekyc_status        TEXT        NOT NULL,
    life_status        TEXT        NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    version            BIGINT      NOT NULL
);
CREATE INDEX residents_card ON residents (card_number);
CREATE INDEX residents_mobile ON residents (mobile_blind_index) WHERE mobile_blind_index IS NOT NULL;

CREATE TABLE registry_history (
    id        BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity    TEXT        NOT NULL,
    entity_id TEXT        NOT NULL,
    field     TEXT        NOT NULL,
    old_value TEXT,
    new_value TEXT,
    actor     TEXT        NOT NULL,
    reason    TEXT,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX registry_history_entity ON registry_history (entity, entity_id);

-- ---------------------------------------------------------------- audit
-- `details` is TEXT, not JSONB: JSONB would reorder keys and normalise spacing, and the hash
-- chain hashes the exact text.
CREATE TABLE audit_log (
    seq       BIGINT      PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    actor     TEXT        NOT NULL,
    action    TEXT        NOT NULL,
    target    TEXT,
    details   TEXT        NOT NULL,
    prev_hash TEXT        NOT NULL,
    hash      TEXT        NOT NULL
);
-- Append-only: the hub never updates, deletes or truncates an entry. A superuser can drop
-- these triggers, which is what the hash chain is for.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- ---------------------------------------------------------------- jobs
CREATE TABLE jobs (
    id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT        NOT NULL,
    payload      JSONB       NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER     NOT NULL DEFAULT 0,
    run_at       TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

-- ---------------------------------------------------------------- accounts
CREATE TABLE users (
    username      TEXT        PRIMARY KEY,
    password_hash TEXT        NOT NULL,
    role          TEXT        NOT NULL,
    disabled      BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    token_hash BYTEA       PRIMARY KEY,
    username   TEXT        NOT NULL REFERENCES users (username),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_clients (
    client_id   TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    secret_hash TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
