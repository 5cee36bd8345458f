-- Causerie core schema, PostgreSQL flavour.
-- Keep in step with ../sqlite/0001_core.sql: same tables, columns and constraints.
-- Timestamps are BIGINT milliseconds since the Unix epoch. Tables are created unqualified,
-- i.e. in the first schema of the connection's search_path.

CREATE TABLE accounts (
    id          BIGSERIAL PRIMARY KEY,
    username    TEXT   NOT NULL UNIQUE,
    created_ms  BIGINT NOT NULL
);

-- One SCRAM credential per account and hash function (RFC 5802): salt, iteration count,
-- StoredKey and ServerKey only; neither the password nor SaltedPassword is ever stored.
CREATE TABLE scram_credentials (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hash        TEXT   NOT NULL CHECK (hash IN ('sha1', 'sha256')),
    salt        BYTEA  NOT NULL,
    iterations  BIGINT NOT NULL CHECK (iterations BETWEEN 1 AND 4294967295),
    stored_key  BYTEA  NOT NULL,
    server_key  BYTEA  NOT NULL,
    PRIMARY KEY (account_id, hash)
);

-- Roster items (RFC 6121 §2).
CREATE TABLE roster_items (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT  NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact       TEXT    NOT NULL,
    name          TEXT,
    subscription  TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask           BOOLEAN NOT NULL DEFAULT FALSE,
    approved      BOOLEAN NOT NULL DEFAULT FALSE,
    refused       BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (account_id, contact)
);
CREATE INDEX roster_items_contact ON roster_items (contact);

-- Roster groups of one item (deleted with the item, hence with the account).
CREATE TABLE roster_groups (
    item_id  BIGINT NOT NULL REFERENCES roster_items (id) ON DELETE CASCADE,
    name     TEXT   NOT NULL,
    PRIMARY KEY (item_id, name)
);

-- Inbound subscription requests not answered yet (RFC 6121 §3.1.3); ids give the arrival order.
CREATE TABLE pending_in (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact     TEXT   NOT NULL,
    stanza      TEXT   NOT NULL,
    UNIQUE (account_id, contact)
);

-- Messages kept for offline users; ids (never reused) give the arrival order.
CREATE TABLE offline_messages (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    stanza      TEXT   NOT NULL,
    stamp_ms    BIGINT NOT NULL
);
CREATE INDEX offline_messages_account ON offline_messages (account_id, id);

-- vCard-temp (XEP-0054) of an account, as XML text.
CREATE TABLE vcards (
    account_id  BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    xml         TEXT   NOT NULL,
    updated_ms  BIGINT NOT NULL
);
