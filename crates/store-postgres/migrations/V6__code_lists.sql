-- Code lists a state loads (the LGD village directory, the list of scheme codes): uploads are
-- checked against them once loaded; before, only a code's format is. The list is kept as the
-- CSV it was loaded from, already checked whole, and replaced whole by the next load.
CREATE TABLE code_lists (
    name      TEXT   NOT NULL PRIMARY KEY CHECK (name IN ('villages', 'schemes')),
    body      TEXT   NOT NULL,
    entries   BIGINT NOT NULL,
    sha256    TEXT   NOT NULL,
    loaded_by TEXT   NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
