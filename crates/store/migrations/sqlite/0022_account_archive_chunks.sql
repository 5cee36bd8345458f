-- The accounts' archive in chunks (issue 14; BENCHMARKS.md, "The 1:1 archive in chunks"):
-- a row per message and its four indexes cost the writer about 15 µs of CPU per 1:1 message;
-- one row per owner and batch, its messages in JSON arrays, costs a few. Read and written
-- by src/account_archive.rs and src/archive_writer.rs. PostgreSQL keeps its rows
-- (../postgres/0022_account_archive_chunks.sql says why).
--
-- A chunk holds one account's messages of one batch of the archive writer, oldest first,
-- at most 4,096 (paging.rs, CHUNK_BITS), in two JSON arrays with the same places:
-- `account_archive_chunk.messages`, each message's [stanza_id, with_jid, outgoing (0 or 1),
-- stamp_ms], and `account_archive_stanzas.stanzas`, each message's stanza as delivered (XML
-- text). The chunks are kept in their owner's order (WITHOUT ROWID, keyed by owner), small,
-- so that a query counts and filters an owner's archive on a few contiguous pages; it reads
-- a stanza only for a row it returns. A message deleted from a chunk (purged) becomes JSON
-- null in both, so that the others keep their place. `n` counts the chunk's messages (not
-- the nulls), so that an owner's archive is counted without unpacking it; `first_ms` is
-- the oldest stamp of the chunk's messages, for the purge. A chunk is deleted with its owner, its stanzas with it.
-- (No CHECK (json_valid(…)): it would parse every chunk the writer inserts; the writer
-- makes the texts with serde_json.)
CREATE TABLE account_archive_stanzas (
    id        INTEGER PRIMARY KEY,
    stanzas   TEXT    NOT NULL
);
CREATE TABLE account_archive_chunk (
    owner_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The id of its stanzas' row: it grows with arrival.
    id        INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    first_ms  INTEGER NOT NULL,
    messages  TEXT    NOT NULL,
    PRIMARY KEY (owner_id, id)
) WITHOUT ROWID;
CREATE INDEX account_archive_chunk_first ON account_archive_chunk (first_ms);
CREATE TRIGGER account_archive_chunk_gone AFTER DELETE ON account_archive_chunk
BEGIN
    DELETE FROM account_archive_stanzas WHERE id = OLD.id;
END;

-- Every existing row becomes a chunk of one, under its own id: the order is kept. The old
-- table's pages are overwritten as they are freed, so that a message purged or retracted
-- later cannot be read back from them.
INSERT INTO account_archive_stanzas (id, stanzas)
    SELECT id, json_array(stanza) FROM account_archive ORDER BY id;
INSERT INTO account_archive_chunk (owner_id, id, n, first_ms, messages)
    SELECT owner_id, id, 1, stamp_ms, json_array(json_array(stanza_id, with_jid, outgoing, stamp_ms))
    FROM account_archive ORDER BY owner_id, id;
PRAGMA secure_delete = ON;
DROP TABLE account_archive;

-- The archive's messages as rows, with the columns the table had: readers and paging
-- query it as they query PostgreSQL's table. A message's `id` is its chunk's id shifted
-- left by 12 bits plus its place in the chunk (greater for a later message of the same
-- owner); `chunk` lets a query bound the chunks it unpacks. `stanza` is read from the
-- chunk's stanzas only where a query asks for it.
CREATE VIEW account_archive AS
    SELECT (c.id << 12) + m.key AS id,
           c.id AS chunk,
           c.owner_id AS owner_id,
           json_extract(m.value, '$[0]') AS stanza_id,
           json_extract(m.value, '$[1]') AS with_jid,
           json_extract(m.value, '$[2]') AS outgoing,
           (SELECT json_extract(s.stanzas, '$[' || m.key || ']')
            FROM account_archive_stanzas s WHERE s.id = c.id) AS stanza,
           json_extract(m.value, '$[3]') AS stamp_ms
    FROM account_archive_chunk c, json_each(c.messages) m
    WHERE m.type = 'array';

-- Writing through the view, for an operator's statement or a test's: a message inserted
-- alone is a chunk of one; an update rewrites the message in its chunk; a delete leaves
-- JSON null in its place and drops the chunk once nothing is left in it. (SQLite counts
-- no changes for statements on a view: the server's own writes go to the chunks.)
CREATE TRIGGER account_archive_insert INSTEAD OF INSERT ON account_archive
BEGIN
    INSERT INTO account_archive_stanzas (stanzas) VALUES (json_array(NEW.stanza));
    INSERT INTO account_archive_chunk (owner_id, id, n, first_ms, messages)
    VALUES (NEW.owner_id, last_insert_rowid(), 1, NEW.stamp_ms,
            json_array(json_array(CAST(NEW.stanza_id AS TEXT), CAST(NEW.with_jid AS TEXT),
                                  CAST(NEW.outgoing AS INTEGER), NEW.stamp_ms)));
END;
CREATE TRIGGER account_archive_update INSTEAD OF UPDATE ON account_archive
BEGIN
    UPDATE account_archive_chunk
    SET messages = json_replace(messages, '$[' || (OLD.id & 4095) || ']',
                                json_array(CAST(NEW.stanza_id AS TEXT),
                                           CAST(NEW.with_jid AS TEXT),
                                           CAST(NEW.outgoing AS INTEGER), NEW.stamp_ms)),
        first_ms = min(first_ms, NEW.stamp_ms)
    WHERE owner_id = OLD.owner_id AND id = OLD.chunk;
    UPDATE account_archive_stanzas
    SET stanzas = json_replace(stanzas, '$[' || (OLD.id & 4095) || ']', NEW.stanza)
    WHERE id = OLD.chunk;
END;
CREATE TRIGGER account_archive_delete INSTEAD OF DELETE ON account_archive
BEGIN
    UPDATE account_archive_chunk
    SET messages = json_replace(messages, '$[' || (OLD.id & 4095) || ']', NULL), n = n - 1
    WHERE owner_id = OLD.owner_id AND id = OLD.chunk;
    UPDATE account_archive_stanzas
    SET stanzas = json_replace(stanzas, '$[' || (OLD.id & 4095) || ']', NULL)
    WHERE id = OLD.chunk;
    DELETE FROM account_archive_chunk
    WHERE owner_id = OLD.owner_id AND id = OLD.chunk
      AND NOT EXISTS (SELECT 1 FROM json_each(messages) WHERE type = 'array');
END;
