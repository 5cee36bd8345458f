-- Personal eventing (XEP-0163 PEP nodes and their items, on each account's bare JID) and
-- private XML storage (XEP-0049). SQLite flavour; keep in step with
-- ../postgres/0008_pep.sql. Timestamps are INTEGER milliseconds; flags are INTEGER 0/1.

-- One PEP node of an account, with its configuration (XEP-0060 pubsub#node_config, the
-- options Causerie implements). Access models: 'presence' (the owner and the accounts
-- subscribed to his presence, as the school's rules allow) and 'whitelist' (the owner
-- only); `open` is refused (docs/directory.md).
CREATE TABLE pep_nodes (
    account_id      INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    node            TEXT    NOT NULL,
    access_model    TEXT    NOT NULL CHECK (access_model IN ('presence', 'whitelist')),
    persist_items   INTEGER NOT NULL CHECK (persist_items IN (0, 1)),
    max_items       INTEGER NOT NULL CHECK (max_items >= 1),
    send_last       TEXT    NOT NULL CHECK (send_last IN ('never', 'on_sub', 'on_sub_and_presence')),
    notify_retract  INTEGER NOT NULL CHECK (notify_retract IN (0, 1)),
    notify_delete   INTEGER NOT NULL CHECK (notify_delete IN (0, 1)),
    created_ms      INTEGER NOT NULL,
    PRIMARY KEY (account_id, node)
);

-- A node's items; `seq` orders them (a republished id becomes the newest), `bytes` is the
-- size of `xml` in UTF-8, summed for the account's quota.
CREATE TABLE pep_items (
    account_id    INTEGER NOT NULL,
    node          TEXT    NOT NULL,
    item_id       TEXT    NOT NULL,
    seq           INTEGER NOT NULL,
    xml           TEXT    NOT NULL,
    bytes         INTEGER NOT NULL,
    published_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, node, item_id),
    FOREIGN KEY (account_id, node) REFERENCES pep_nodes (account_id, node) ON DELETE CASCADE
);
CREATE INDEX pep_items_seq ON pep_items (account_id, node, seq);

-- XEP-0049 private XML storage: one element per (name, namespace) and account.
CREATE TABLE private_xml (
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    namespace   TEXT    NOT NULL,
    xml         TEXT    NOT NULL,
    bytes       INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, name, namespace)
);
