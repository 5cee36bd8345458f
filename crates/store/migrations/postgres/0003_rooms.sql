-- Multi-user conversations (XEP-0045 rooms), PostgreSQL flavour (read and written by
-- src/rooms.rs). Keep in step with ../sqlite/0003_rooms.sql: same tables, columns and
-- constraints. Timestamps are BIGINT milliseconds since the Unix epoch.

-- A room (`name@conference.DOMAIN`) and what must survive a restart of its configuration.
-- Ids are never reused, so a room made again under the same name never sees the archive of
-- the room that had that name before.
CREATE TABLE rooms (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    title        TEXT    NOT NULL DEFAULT '',
    description  TEXT    NOT NULL DEFAULT '',
    subject      TEXT    NOT NULL DEFAULT '',
    subject_by   TEXT    NOT NULL DEFAULT '',
    locked       BOOLEAN NOT NULL DEFAULT TRUE,
    created_ms   BIGINT  NOT NULL
);

-- Members of a room (members-only rooms): the owner (its creator) and the invited members,
-- with who invited them and the nickname they last used there. Removed with the room or
-- the account.
CREATE TABLE room_members (
    room_id      BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    account_id   BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    affiliation  TEXT   NOT NULL CHECK (affiliation IN ('owner', 'member')),
    invited_by   TEXT,
    nick         TEXT,
    added_ms     BIGINT NOT NULL,
    PRIMARY KEY (room_id, account_id)
);
CREATE INDEX room_members_account ON room_members (account_id);

-- Archive of the groupchat messages (XEP-0313 on the room). It outlives its room (room_id
-- becomes NULL; `room` keeps the name) until the retention limit purges it.
CREATE TABLE room_archive (
    id         BIGSERIAL PRIMARY KEY,
    room_id    BIGINT REFERENCES rooms (id) ON DELETE SET NULL,
    room       TEXT   NOT NULL,
    stanza_id  TEXT   NOT NULL UNIQUE,
    sender     TEXT   NOT NULL,
    nick       TEXT   NOT NULL,
    stanza     TEXT   NOT NULL,
    stamp_ms   BIGINT NOT NULL
);
CREATE INDEX room_archive_room ON room_archive (room_id, id);
CREATE INDEX room_archive_stamp ON room_archive (stamp_ms);
