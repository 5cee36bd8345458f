-- Causerie core schema, SQLite flavour.
-- Keep in step with ../postgres/0001_core.sql: same tables, columns and constraints.
-- Timestamps are INTEGER milliseconds since the Unix epoch; flags are INTEGER 0/1.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    username    TEXT    NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL
);

-- One SCRAM credential per account and hash function (RFC 5802): salt, iteration count,
-- StoredKey and ServerKey only; neither the password nor SaltedPassword is ever stored.
CREATE TABLE scram_credentials (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash        TEXT    NOT NULL CHECK (hash IN ('sha1', 'sha256')),
    salt        BLOB    NOT NULL,
    iterations  INTEGER NOT NULL CHECK (iterations BETWEEN 1 AND 4294967295),
    stored_key  BLOB    NOT NULL,
    server_key  BLOB    NOT NULL,
    PRIMARY KEY (account_id, hash)
);

-- Roster items (RFC 6121 §2).
CREATE TABLE roster_items (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact       TEXT    NOT NULL,
    name          TEXT,
    subscription  TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask           INTEGER NOT NULL DEFAULT 0 CHECK (ask IN (0, 1)),
    approved      INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
    refused       INTEGER NOT NULL DEFAULT 0 CHECK (refused IN (0, 1)),
    UNIQUE (account_id, contact)
);
CREATE INDEX roster_items_contact ON roster_items (contact);

-- Roster groups of one item (deleted with the item, hence with the account).
CREATE TABLE roster_groups (
    item_id  INTEGER NOT NULL REFERENCES roster_items (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    PRIMARY KEY (item_id, name)
);

-- Inbound subscription requests not answered yet (RFC 6121 §3.1.3).
-- AUTOINCREMENT: ids are never reused, so they give the arrival order.
CREATE TABLE pending_in (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact     TEXT    NOT NULL,
    stanza      TEXT    NOT NULL,
    UNIQUE (account_id, contact)
);

-- Messages kept for offline users. AUTOINCREMENT: ids are never reused, so
-- "delete up to id N" can never hit a message stored after N was read.
CREATE TABLE offline_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stanza      TEXT    NOT NULL,
    stamp_ms    INTEGER NOT NULL
);
CREATE INDEX offline_messages_account ON offline_messages (account_id, id);

-- vCard-temp (XEP-0054) of an account, as XML text.
CREATE TABLE vcards (
    account_id  INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    xml         TEXT    NOT NULL,
    updated_ms  INTEGER NOT NULL
);
