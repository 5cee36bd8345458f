-- Lawful archive access, departures and pupils' profile settings (issue 16, part C),
-- PostgreSQL flavour (read and written by src/privacy.rs). Keep in step with
-- ../sqlite/0014_privacy.sql. Timestamps are BIGINT milliseconds since the Unix epoch.

-- When a directory user left the directory (deactivated by an import or the sync API);
-- NULL while he is in it. His data is purged `[retention] departed_days` after it. Users
-- already deactivated when this migration runs are taken to leave now.
ALTER TABLE directory_users ADD COLUMN left_ms BIGINT;
UPDATE directory_users SET left_ms = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT
    WHERE NOT active;
CREATE INDEX directory_users_left ON directory_users (left_ms);

-- A right given to a structure's safety staff member (`grantee`, a login) to read the
-- archives of one person (`target`, a login of that structure) until `expires_ms`, for the
-- typed `reason`. Names, not foreign keys: the trace outlives the accounts (the audit log
-- holds the same facts, purged with it).
CREATE TABLE archive_grants (
    id            BIGSERIAL PRIMARY KEY,
    structure_id  TEXT    NOT NULL,
    grantee       TEXT    NOT NULL,
    target        TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    created_ms    BIGINT  NOT NULL,
    expires_ms    BIGINT  NOT NULL
);
CREATE INDEX archive_grants_structure ON archive_grants (structure_id, id);
CREATE INDEX archive_grants_expires ON archive_grants (expires_ms);

-- A structure's choice for its pupils' photos (vCard PHOTO, XEP-0084 avatars), when its
-- administrator made one (no row: the default, off). No foreign key, like
-- `structure_archive`.
CREATE TABLE structure_profile (
    structure_id  TEXT    NOT NULL PRIMARY KEY,
    pupil_photos  BOOLEAN NOT NULL
);

-- The purge of closed reports reads them by status and last change.
CREATE INDEX reports_closed ON reports (status, updated_ms);
-- The purge of the audit log walks it by time.
CREATE INDEX audit_log_time ON audit_log (at_ms);
