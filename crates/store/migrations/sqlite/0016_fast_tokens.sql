-- XEP-0484 FAST tokens (issue 14): each row is one token an account's client (its
-- XEP-0388 user-agent id, `agent`) may log in with until `expires_ms`. Only the token's
-- SHA-256 is kept (`key_hash`, the key HMAC reduces the long token to; see
-- crates/proto/src/ht.rs), never the token. `last_count` is the highest `count` the
-- client sent with it (replay rule), -1 before any. A new password deletes the
-- account's tokens (credentials.rs). Keep in step with ../postgres/0016_fast_tokens.sql.
CREATE TABLE fast_tokens (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    agent       TEXT    NOT NULL,
    key_hash    BLOB    NOT NULL,
    issued_ms   INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    last_count  INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (account_id, key_hash)
);
CREATE INDEX fast_tokens_agent ON fast_tokens (account_id, agent);
