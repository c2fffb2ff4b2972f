-- Uploads (batches) of department data.

CREATE TABLE uploads (
    id              TEXT    PRIMARY KEY,
    dataset         TEXT    NOT NULL,
    organisation    TEXT    NOT NULL,
    uploaded_by     TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    file_sha256     TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    mode            TEXT    NOT NULL CHECK (mode IN ('full', 'incremental')),
    status          TEXT    NOT NULL
        CHECK (status IN ('received', 'validating', 'committed', 'failed', 'interrupted')),
    rows            INTEGER NOT NULL DEFAULT 0,
    accepted        INTEGER NOT NULL DEFAULT 0,
    rejected        INTEGER NOT NULL DEFAULT 0,
    added           INTEGER NOT NULL DEFAULT 0,
    modified        INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    unchanged       INTEGER NOT NULL DEFAULT 0,
    corrects        TEXT    REFERENCES uploads (id),
    error           TEXT,
    received_at     TEXT    NOT NULL,
    finished_at     TEXT,
    UNIQUE (dataset, organisation, file_sha256, idempotency_key)
);
CREATE INDEX uploads_organisation ON uploads (organisation, received_at);
CREATE INDEX uploads_status ON uploads (status);
