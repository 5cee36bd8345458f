-- The accounts' archive rebuilt with cheaper keys for its writer (BENCHMARKS.md, "The 1:1
-- archive"); same columns, same rows, same ids. Keep in step with
-- ../postgres/0020_account_archive_keys.sql.
--
-- - The uniqueness of a stanza-id in its owner's archive is kept by an index on
--   (stanza_id, owner_id) instead of (owner_id, stanza_id): stanza-ids are UUIDv7
--   (time-ordered), so each new row's key lands at the end of this index instead of at a
--   random place inside its owner's range. Lookups by owner and stanza-id use it as well.
-- - `id` without AUTOINCREMENT: it still grows with arrival (a new row takes the largest
--   id plus one), without the write to sqlite_sequence that AUTOINCREMENT adds to every
--   insert. An id may come back only after the newest row is deleted; no one outside
--   the store sees ids (clients page by stanza-id).
CREATE TABLE account_archive_new (
    id         INTEGER PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stanza_id  TEXT    NOT NULL,
    with_jid   TEXT    NOT NULL,
    outgoing   INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
    stanza     TEXT    NOT NULL,
    stamp_ms   INTEGER NOT NULL
);
INSERT INTO account_archive_new (id, owner_id, stanza_id, with_jid, outgoing, stanza, stamp_ms)
    SELECT id, owner_id, stanza_id, with_jid, outgoing, stanza, stamp_ms FROM account_archive;
DROP TABLE account_archive;
ALTER TABLE account_archive_new RENAME TO account_archive;
CREATE UNIQUE INDEX account_archive_stanza ON account_archive (stanza_id, owner_id);
CREATE INDEX account_archive_owner ON account_archive (owner_id, id);
CREATE INDEX account_archive_with ON account_archive (owner_id, with_jid, id);
-- The purge walks the old rows, whoever owns them.
CREATE INDEX account_archive_stamp ON account_archive (stamp_ms);
