-- The directory of bank branches (IFSC) joins the code lists a state can load. SQLite
-- changes a table's CHECK only by rebuilding it.
CREATE TABLE code_lists_v10 (
    name      TEXT   NOT NULL PRIMARY KEY CHECK (name IN ('villages', 'schemes', 'ifsc')),
    body      TEXT   NOT NULL,
    entries   INTEGER NOT NULL,
    sha256    TEXT   NOT NULL,
    loaded_by TEXT   NOT NULL,
    loaded_at TEXT NOT NULL
);
INSERT INTO code_lists_v10 (name, body, entries, sha256, loaded_by, loaded_at)
    SELECT name, body, entries, sha256, loaded_by, loaded_at FROM code_lists;
DROP TABLE code_lists;
ALTER TABLE code_lists_v10 RENAME TO code_lists;
