-- Causerie administration, PostgreSQL flavour (read and written by src/admin.rs). Keep in step
-- with ../sqlite/0004_admin.sql: same tables, columns and constraints. Timestamps are
-- BIGINT milliseconds since the Unix epoch; flags are BOOLEAN; JSON is TEXT.

-- Local administrators: `login` administers `structure_id`. `source` = 'grant' (made by a
-- super-administrator, kept until revoked) or 'import' (from `admin_of` in the directory,
-- replaced by each import). No foreign keys: a grant names a login and a structure that
-- may come (back) with the next import.
CREATE TABLE admin_grants (
    login         TEXT NOT NULL,
    structure_id  TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('grant', 'import')),
    PRIMARY KEY (login, structure_id, source)
);
CREATE INDEX admin_grants_structure ON admin_grants (structure_id);

-- Super-administrators made with `causerie admin add LOGIN --super` (those of the config
-- file are not stored).
CREATE TABLE admin_supers (
    login  TEXT NOT NULL PRIMARY KEY
);

-- Console sessions: the SHA-256 of the cookie's token (never the token), the CSRF token.
CREATE TABLE admin_sessions (
    token_hash    TEXT    NOT NULL PRIMARY KEY,
    login         TEXT    NOT NULL,
    csrf          TEXT    NOT NULL,
    created_ms    BIGINT  NOT NULL,
    last_seen_ms  BIGINT  NOT NULL,
    expires_ms    BIGINT  NOT NULL
);
CREATE INDEX admin_sessions_login ON admin_sessions (login);

-- Failed console logins, for the lockout (old rows are pruned at each failure).
CREATE TABLE admin_login_failures (
    id     BIGSERIAL PRIMARY KEY,
    login  TEXT    NOT NULL,
    at_ms  BIGINT  NOT NULL
);
CREATE INDEX admin_login_failures_login ON admin_login_failures (login, at_ms);

-- Accounts locked by an administrator: they cannot log in. Removed with the account.
CREATE TABLE account_locks (
    account_id  BIGINT  PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    at_ms       BIGINT  NOT NULL,
    actor       TEXT    NOT NULL
);

-- Every administrative change, written in the change's own transaction.
-- Ids only grow, so they order the log.
CREATE TABLE audit_log (
    id            BIGSERIAL PRIMARY KEY,
    at_ms         BIGINT  NOT NULL,
    actor         TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    structure_id  TEXT,
    target        TEXT,
    before_json   TEXT,
    after_json    TEXT
);
CREATE INDEX audit_log_structure ON audit_log (structure_id, id);

-- Directory imports (full ones from the CLI, changes through the sync API) and their outcome.
CREATE TABLE directory_imports (
    id           BIGSERIAL PRIMARY KEY,
    at_ms        BIGINT  NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('cli', 'api')),
    ok           BOOLEAN NOT NULL,
    counts_json  TEXT    NOT NULL,
    errors_json  TEXT    NOT NULL
);
