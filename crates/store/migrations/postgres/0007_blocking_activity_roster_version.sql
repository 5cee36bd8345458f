-- Issue 14. Keep in step with ../sqlite/0007_blocking_activity_roster_version.sql.

-- XEP-0191 blocking: the JIDs (bare, full or domain, normalised) each account blocked.
CREATE TABLE blocklist (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    jid         TEXT    NOT NULL,
    PRIMARY KEY (account_id, jid)
);

-- Roster versioning (RFC 6121 §2.6): a counter per account, bumped by every roster write
-- in the write's own transaction. No row means version 0.
CREATE TABLE roster_versions (
    account_id  BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    version     BIGINT  NOT NULL
);

-- XEP-0012 last activity: when the account's last session ended, and its last status.
CREATE TABLE last_activity (
    account_id  BIGINT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    logout_ms   BIGINT  NOT NULL,
    status      TEXT
);
