-- File sharing (XEP-0363 HTTP File Upload, issue 15), SQLite flavour (read and written by
-- src/uploads.rs). Keep in step with ../postgres/0010_uploads.sql. Timestamps are INTEGER
-- milliseconds since the Unix epoch.

-- One file: first a slot the server granted (state 0), then being received (1, the
-- single PUT claimed it), then stored (2, served at its GET URL). `id` is 128 random bits
-- in hex, the file's name on disk and in its URLs; `filename` the client's name made safe.
-- An account deleted leaves its files ownerless: the next purge deletes them.
CREATE TABLE uploads (
    id            TEXT    NOT NULL PRIMARY KEY,
    owner_id      INTEGER REFERENCES accounts (id) ON DELETE SET NULL,
    filename      TEXT    NOT NULL,
    size          INTEGER NOT NULL CHECK (size > 0),
    content_type  TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL,
    state         INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2))
);
CREATE INDEX uploads_owner ON uploads (owner_id, created_ms);
CREATE INDEX uploads_created ON uploads (created_ms);

-- A structure's file sharing, when its administrator set it (no row: the default,
-- `[upload]`, off for a primary school). `types` space-separated. No foreign key, like
-- `structure_archive`.
CREATE TABLE structure_upload (
    structure_id  TEXT    NOT NULL PRIMARY KEY,
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    max_bytes     INTEGER NOT NULL CHECK (max_bytes > 0),
    types         TEXT    NOT NULL
);
