-- Causerie school directory, PostgreSQL flavour (read and written by
-- src/directory.rs). Keep in step with ../sqlite/0002_directory.sql: same tables, columns
-- and constraints. Flags are BOOLEAN. Profile lists are comma-separated profile names
-- ("student,teacher"; "" for none), in the order given.

-- Single-row counter, incremented by every directory, rules or access change in the same
-- transaction: a process (the server) notices changes made by another one (the CLI).
CREATE TABLE directory_generation (
    id     BIGINT  PRIMARY KEY CHECK (id = 1),
    value  BIGINT  NOT NULL
);
INSERT INTO directory_generation (id, value) VALUES (1, 0);

-- Schools ("établissements").
CREATE TABLE structures (
    id    TEXT NOT NULL PRIMARY KEY,
    name  TEXT NOT NULL
);

-- Classes of one structure. A structure cannot be removed while a class still refers to it.
CREATE TABLE classes (
    id            TEXT NOT NULL PRIMARY KEY,
    structure_id  TEXT NOT NULL REFERENCES structures (id),
    name          TEXT NOT NULL
);
CREATE INDEX classes_structure ON classes (structure_id);

-- Directory users: an account (login = accounts.username) with the directory's data.
-- Never deleted by an import, only deactivated (their archives stay); deleted with the account.
CREATE TABLE directory_users (
    account_id  BIGINT  PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    last_name   TEXT    NOT NULL,
    first_name  TEXT    NOT NULL,
    profile     TEXT    NOT NULL
                CHECK (profile IN ('student', 'relative', 'teacher', 'personnel', 'guest')),
    active      BOOLEAN NOT NULL DEFAULT TRUE
);

-- A user's structures and classes; removed with the user, the structure or the class.
CREATE TABLE user_structures (
    account_id    BIGINT  NOT NULL REFERENCES directory_users (account_id) ON DELETE CASCADE,
    structure_id  TEXT    NOT NULL REFERENCES structures (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, structure_id)
);
CREATE INDEX user_structures_structure ON user_structures (structure_id);

CREATE TABLE user_classes (
    account_id  BIGINT  NOT NULL REFERENCES directory_users (account_id) ON DELETE CASCADE,
    class_id    TEXT    NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, class_id)
);
CREATE INDEX user_classes_class ON user_classes (class_id);

-- A relative's children.
CREATE TABLE parent_children (
    parent_id  BIGINT  NOT NULL REFERENCES directory_users (account_id) ON DELETE CASCADE,
    child_id   BIGINT  NOT NULL REFERENCES directory_users (account_id) ON DELETE CASCADE,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX parent_children_child ON parent_children (child_id);

-- ENT groups, optionally of one structure (which cannot be removed while the group refers to it).
CREATE TABLE groups (
    id            TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    structure_id  TEXT REFERENCES structures (id)
);
CREATE INDEX groups_structure ON groups (structure_id);

CREATE TABLE group_members (
    group_id    TEXT    NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    account_id  BIGINT  NOT NULL REFERENCES directory_users (account_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account ON group_members (account_id);

-- Structures whose administrator set their own communication rules (possibly none at all:
-- nobody reaches anybody by rule); a structure without a row uses the default rules.
-- Deliberately no foreign key to `structures`: these are the administrator's settings, an
-- import never touches them, and they apply again if a structure dropped by one export
-- comes back in the next.
CREATE TABLE rule_sets (
    structure_id  TEXT NOT NULL PRIMARY KEY
);

-- The rules of a rule set, in order (position 0, 1, …).
CREATE TABLE rules (
    structure_id   TEXT    NOT NULL REFERENCES rule_sets (structure_id) ON DELETE CASCADE,
    position       BIGINT  NOT NULL CHECK (position >= 0),
    from_profiles  TEXT    NOT NULL,
    to_profiles    TEXT    NOT NULL,
    scope          TEXT    NOT NULL
                   CHECK (scope IN ('same_class', 'same_structure', 'own_children', 'children_classes')),
    two_way        BOOLEAN NOT NULL,
    PRIMARY KEY (structure_id, position)
);

-- Whether a structure may use the service, and which profiles; no row = enabled, all
-- profiles. No foreign key, for the same reason as `rule_sets`.
CREATE TABLE structure_access (
    structure_id  TEXT    NOT NULL PRIMARY KEY,
    enabled       BOOLEAN NOT NULL,
    profiles      TEXT    NOT NULL
);
