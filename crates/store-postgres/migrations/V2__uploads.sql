-- Uploads (batches) of department data: the same table as SQLite's V2, with native types.

CREATE TABLE uploads (
    id              TEXT        PRIMARY KEY,
    dataset         TEXT        NOT NULL,
    organisation    TEXT        NOT NULL,
    uploaded_by     TEXT        NOT NULL,
    file_name       TEXT        NOT NULL,
    file_sha256     TEXT        NOT NULL,
    idempotency_key TEXT        NOT NULL,
    mode            TEXT        NOT NULL CHECK (mode IN ('full', 'incremental')),
    status          TEXT        NOT NULL
        CHECK (status IN ('received', 'validating', 'committed', 'failed', 'interrupted')),
    rows            BIGINT      NOT NULL DEFAULT 0 CHECK (rows >= 0),
    accepted        BIGINT      NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    rejected        BIGINT      NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    added           BIGINT      NOT NULL DEFAULT 0 CHECK (added >= 0),
    modified        BIGINT      NOT NULL DEFAULT 0 CHECK (modified >= 0),
    deleted         BIGINT      NOT NULL DEFAULT 0 CHECK (deleted >= 0),
    unchanged       BIGINT      NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    corrects        TEXT        REFERENCES uploads (id),
    error           TEXT,
    received_at     TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    UNIQUE (dataset, organisation, file_sha256, idempotency_key)
);
-- Listings are newest first, of one organisation or of all.
CREATE INDEX uploads_organisation ON uploads (organisation, received_at, id);
CREATE INDEX uploads_received ON uploads (received_at, id);
CREATE INDEX uploads_status ON uploads (status);
