-- The client table of the first design: applications replace it, with their onboarding and
-- agreements. It never held a live client.
DROP TABLE api_clients;

-- Sharing with consuming applications. An application's registration, onboarding state,
-- agreements and client-secret hashes change together and are read together on every API
-- call, so they are one versioned JSON document; the columns beside it are what is looked up.
CREATE TABLE organisations (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    doc        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE applications (
    id           TEXT    NOT NULL PRIMARY KEY,
    organisation TEXT    NOT NULL REFERENCES organisations (id),
    client_id    TEXT    UNIQUE,
    status       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    doc          TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);
CREATE INDEX applications_organisation ON applications (organisation);

-- Requests per application per day (IST), for quotas that hold across restarts and processes.
CREATE TABLE usage_daily (
    application_id TEXT    NOT NULL,
    day            TEXT    NOT NULL,
    requests       INTEGER NOT NULL,
    PRIMARY KEY (application_id, day)
) WITHOUT ROWID;

-- Decoy residents: no legitimate query returns them, so whoever asks for one is harvesting.
CREATE TABLE honeytokens (
    resident_id TEXT NOT NULL PRIMARY KEY,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;

-- Residents missing from the hub that an application asked to enrol: sealed until verified.
CREATE TABLE resident_requests (
    id             TEXT    NOT NULL PRIMARY KEY,
    application_id TEXT    NOT NULL REFERENCES applications (id),
    status         TEXT    NOT NULL,
    key_version    INTEGER NOT NULL,
    sealed         BLOB    NOT NULL,
    created_at     TEXT    NOT NULL
);
CREATE INDEX resident_requests_application ON resident_requests (application_id, created_at);

-- The access log is the audit log: who saw a resident (by target), what an application saw
-- (by actor).
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, action, seq);
