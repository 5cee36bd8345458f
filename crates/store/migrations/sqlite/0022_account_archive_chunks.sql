-- The accounts' archive in chunks (issue 14; BENCHMARKS.md, "The 1:1 archive in chunks"):
-- a row per message and its four indexes cost the writer about 15 µs of CPU per 1:1 message;
-- one row per owner and batch, its messages in one JSON array, costs a few. Read and
-- written by src/account_archive.rs and src/archive_writer.rs. PostgreSQL keeps its rows
-- (../postgres/0022_account_archive_chunks.sql says why).
--
-- A chunk holds one account's messages of one batch of the archive writer, oldest first,
-- at most 4,096 (paging.rs, CHUNK_BITS). Each message is a JSON array
-- [stanza_id, with_jid, outgoing (0 or 1), stanza, stamp_ms]; a message deleted from a
-- chunk (purged) becomes JSON null, so that the others keep their place. `first_ms` is the
-- oldest stamp of the chunk's messages, for the purge. Deleted with its owner.
CREATE TABLE account_archive_chunk (
    id        INTEGER PRIMARY KEY,
    owner_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    first_ms  INTEGER NOT NULL,
    -- No CHECK (json_valid(body)): it would parse every chunk the writer inserts; the
    -- writer makes the text with serde_json.
    body      TEXT    NOT NULL
);
CREATE INDEX account_archive_chunk_owner ON account_archive_chunk (owner_id, id);
CREATE INDEX account_archive_chunk_first ON account_archive_chunk (first_ms);

-- Every existing row becomes a chunk of one, under its own id: the order is kept.
INSERT INTO account_archive_chunk (id, owner_id, first_ms, body)
    SELECT id, owner_id, stamp_ms,
           json_array(json_array(stanza_id, with_jid, outgoing, stanza, stamp_ms))
    FROM account_archive ORDER BY id;
DROP TABLE account_archive;

-- The archive's messages as rows, with the columns the table had: readers and paging
-- query it as they query PostgreSQL's table. A message's `id` is its chunk's id shifted
-- left by 12 bits plus its place in the chunk (greater for a later message of the same
-- owner); `chunk` lets a query bound the chunks it unpacks.
CREATE VIEW account_archive AS
    SELECT (c.id << 12) + m.key AS id,
           c.id AS chunk,
           c.owner_id AS owner_id,
           m.value ->> 0 AS stanza_id,
           m.value ->> 1 AS with_jid,
           m.value ->> 2 AS outgoing,
           m.value ->> 3 AS stanza,
           m.value ->> 4 AS stamp_ms
    FROM account_archive_chunk c, json_each(c.body) m
    WHERE m.type = 'array';

-- Writing through the view, for an operator's statement or a test's: a message inserted
-- alone is a chunk of one; an update rewrites the message in its chunk; a delete leaves
-- JSON null in its place and drops the chunk once nothing is left in it. (SQLite counts
-- no changes for statements on a view: the server's own writes go to the chunks.)
CREATE TRIGGER account_archive_insert INSTEAD OF INSERT ON account_archive
BEGIN
    INSERT INTO account_archive_chunk (owner_id, first_ms, body)
    VALUES (NEW.owner_id, NEW.stamp_ms,
            json_array(json_array(NEW.stanza_id, NEW.with_jid, NEW.outgoing, NEW.stanza,
                                  NEW.stamp_ms)));
END;
CREATE TRIGGER account_archive_update INSTEAD OF UPDATE ON account_archive
BEGIN
    UPDATE account_archive_chunk
    SET body = json_replace(body, '$[' || (OLD.id & 4095) || ']',
                            json_array(NEW.stanza_id, NEW.with_jid, NEW.outgoing, NEW.stanza,
                                       NEW.stamp_ms)),
        first_ms = min(first_ms, NEW.stamp_ms)
    WHERE id = OLD.chunk;
END;
CREATE TRIGGER account_archive_delete INSTEAD OF DELETE ON account_archive
BEGIN
    UPDATE account_archive_chunk
    SET body = json_replace(body, '$[' || (OLD.id & 4095) || ']', NULL)
    WHERE id = OLD.chunk;
    DELETE FROM account_archive_chunk
    WHERE id = OLD.chunk
      AND NOT EXISTS (SELECT 1 FROM json_each(body) WHERE type = 'array');
END;
