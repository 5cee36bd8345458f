-- Quiet hours and the kill switch of each structure (issue 16), SQLite flavour (read and
-- written by src/safety.rs). Keep in step with ../postgres/0013_quiet_shutdown.sql.

-- A structure's quiet hours, when its administrator set them (no row: the default,
-- pupils 21:00–07:00 in Europe/Paris, or none with `[quiet_hours] default = false`).
-- `settings` is the JSON of causerie_ent::QuietHours. No foreign key, like
-- `structure_upload`. Writing it moves the directory generation.
CREATE TABLE structure_quiet_hours (
    structure_id  TEXT NOT NULL PRIMARY KEY,
    settings      TEXT NOT NULL
);

-- A structure's kill switch, when not normal (no row: normal): its mode and the school's
-- text shown with it. Writing it moves the directory generation.
CREATE TABLE structure_shutdown (
    structure_id  TEXT NOT NULL PRIMARY KEY,
    mode          TEXT NOT NULL CHECK (mode IN ('staff_to_families', 'read_only', 'off')),
    message       TEXT
);
