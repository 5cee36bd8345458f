-- The accounts' archive with cheaper keys for its writer (BENCHMARKS.md, "The 1:1
-- archive"). Keep in step with ../sqlite/0020_account_archive_keys.sql.
--
-- The uniqueness of a stanza-id in its owner's archive is kept by an index on
-- (stanza_id, owner_id) instead of (owner_id, stanza_id): stanza-ids are UUIDv7
-- (time-ordered), so each new row's key lands at the end of this index instead of at a
-- random place inside its owner's range. `id` stays a BIGSERIAL (SQLite drops
-- AUTOINCREMENT, which PostgreSQL's sequence does not cost).
ALTER TABLE account_archive DROP CONSTRAINT account_archive_owner_id_stanza_id_key;
CREATE UNIQUE INDEX account_archive_stanza ON account_archive (stanza_id, owner_id);
