-- XEP-0357 push registrations (issue 14): each account's enabled app servers, one row per
-- (app server JID, node), with the publish-options data form the client gave (its XML),
-- sent back with every notification. Keep in step with ../postgres/0009_push.sql.
CREATE TABLE push_registrations (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    jid         TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    options     TEXT,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, jid, node)
);
