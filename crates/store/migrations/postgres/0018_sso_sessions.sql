-- Single sign-on with the portal (issue 18). A row of sso_sessions is one browser signed
-- in through the portal's CAS server: the SHA-256 of its cookie (`id_hash`, never the
-- cookie), the account the CAS user maps to, the SHA-256 of the CAS service ticket that
-- opened it (`ticket_hash`: a CAS single log-out names that ticket), and its end.
-- sso_login_tokens are the single-use, short-lived tokens the web client logs in with
-- over XMPP (SASL OAUTHBEARER), each of one session: a token taken is deleted, a session
-- closed takes its tokens with it. Keep in step with ../sqlite/0018_sso_sessions.sql.
CREATE TABLE sso_sessions (
    id_hash     BYTEA    NOT NULL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ticket_hash BYTEA    NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX sso_sessions_ticket ON sso_sessions (ticket_hash);
CREATE INDEX sso_sessions_account ON sso_sessions (account_id);
CREATE TABLE sso_login_tokens (
    token_hash  BYTEA    NOT NULL PRIMARY KEY,
    session     BYTEA    NOT NULL REFERENCES sso_sessions (id_hash) ON DELETE CASCADE,
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX sso_login_tokens_session ON sso_login_tokens (session);
