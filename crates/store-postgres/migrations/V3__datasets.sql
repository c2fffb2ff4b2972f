-- Datasets (schemes' beneficiary lists) with versioned specs, their enrolments, and what an
-- upload hands back: the file's header, its rejected rows (sealed) and the reference-key
-- mapping. The same tables as SQLite's V3, with native types.

ALTER TABLE users ADD COLUMN organisation TEXT;

CREATE TABLE datasets (
    name                  TEXT        PRIMARY KEY,
    title                 TEXT        NOT NULL,
    organisation          TEXT        NOT NULL,
    current_version       INTEGER     NOT NULL CHECK (current_version > 0),
    update_frequency_days INTEGER     CHECK (update_frequency_days > 0),
    created_by            TEXT        NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE dataset_specs (
    dataset    TEXT        NOT NULL REFERENCES datasets (name),
    version    INTEGER     NOT NULL CHECK (version > 0),
    spec_json  TEXT        NOT NULL,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dataset, version)
);

CREATE TABLE enrolments (
    dataset      TEXT        NOT NULL REFERENCES datasets (name),
    record_key   TEXT        COLLATE "C" NOT NULL,
    ref_key      TEXT        COLLATE "C" REFERENCES vault_entries (ref_key),
    resident_id  TEXT        REFERENCES residents (resident_id),
    fields       JSONB       NOT NULL,
    key_version  INTEGER     NOT NULL,
    sealed       BYTEA       NOT NULL,
    digest       BYTEA       NOT NULL CHECK (length(digest) = 32),
    status       TEXT        NOT NULL CHECK (status IN ('active', 'removed')),
    spec_version INTEGER     NOT NULL,
    upload_id    TEXT        NOT NULL,
    seen_upload  TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT      NOT NULL,
    PRIMARY KEY (dataset, record_key)
);
CREATE INDEX enrolments_ref_key ON enrolments (ref_key) WHERE ref_key IS NOT NULL;
CREATE INDEX enrolments_resident ON enrolments (resident_id) WHERE resident_id IS NOT NULL;
-- The end of a full upload looks for active records it did not see.
CREATE INDEX enrolments_seen ON enrolments (dataset, seen_upload) WHERE status = 'active';

CREATE TABLE upload_headers (
    upload_id TEXT  PRIMARY KEY REFERENCES uploads (id),
    header    JSONB NOT NULL
);

CREATE TABLE upload_rejections (
    upload_id   TEXT    NOT NULL REFERENCES uploads (id),
    line        BIGINT  NOT NULL CHECK (line >= 0),
    key_version INTEGER NOT NULL,
    sealed      BYTEA   NOT NULL,
    PRIMARY KEY (upload_id, line)
);

CREATE TABLE upload_mapping (
    upload_id   TEXT   NOT NULL REFERENCES uploads (id),
    seq         BIGINT NOT NULL CHECK (seq >= 0),
    record_key  TEXT   NOT NULL,
    ref_key     TEXT,
    id_masked   TEXT,
    resident_id TEXT,
    outcome     TEXT   NOT NULL
        CHECK (outcome IN ('added', 'modified', 'unchanged', 'deleted')),
    PRIMARY KEY (upload_id, seq)
);
