-- The accounts' archive of one-to-one messages (XEP-0313 on an account's bare JID) and each
-- structure's retention of it, SQLite flavour (read and written by src/account_archive.rs).
-- Keep in step with ../postgres/0006_account_archive.sql: same tables, columns and
-- constraints. Timestamps are INTEGER milliseconds since the Unix epoch.

-- One message in one account's archive: a 1:1 message is archived once for its sender and
-- once for its recipient, each row owned by one account (deleted with it). `stanza_id` is
-- the XEP-0359 id (the same in both archives, unique per owner), `with_jid` the other
-- party's bare JID, `stanza` the message as delivered (the recipient's copy carries its
-- <stanza-id by='recipient'/>). Paging walks `id` per owner, with or without a `with`.
CREATE TABLE account_archive (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stanza_id  TEXT    NOT NULL,
    with_jid   TEXT    NOT NULL,
    outgoing   INTEGER NOT NULL CHECK (outgoing IN (0, 1)),
    stanza     TEXT    NOT NULL,
    stamp_ms   INTEGER NOT NULL,
    UNIQUE (owner_id, stanza_id)
);
CREATE INDEX account_archive_owner ON account_archive (owner_id, id);
CREATE INDEX account_archive_with ON account_archive (owner_id, with_jid, id);
-- The purge walks the old rows, whoever owns them.
CREATE INDEX account_archive_stamp ON account_archive (stamp_ms);

-- A structure's retention of its users' archives, when its administrator set one (no row:
-- the configured default, `[archive] retention`). `days` NULL means the school year.
-- No foreign key, like `structure_access`: an administrator's setting outlives an export
-- that drops the structure for a while.
CREATE TABLE structure_archive (
    structure_id  TEXT    NOT NULL PRIMARY KEY,
    days          INTEGER CHECK (days IS NULL OR days BETWEEN 1 AND 3650)
);
