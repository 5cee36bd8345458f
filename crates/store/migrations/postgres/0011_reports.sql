-- Reports (« Signaler », XEP-0377, issue 16), PostgreSQL flavour (read and written by
-- src/reports.rs). Keep in step with ../sqlite/0011_reports.sql. Timestamps are BIGINT
-- milliseconds since the Unix epoch.

-- One report, routed to the structure `structure_id` (the reporter's school). `reporter`
-- is the reporter's login, `reported` the reported person's bare JID, `room` the room's
-- name when the reported messages were in a room. Names, not foreign keys: the evidence
-- outlives an account's or a room's deletion. `stanza_ids` the reported XEP-0359 ids,
-- space-separated.
CREATE TABLE reports (
    id            BIGSERIAL PRIMARY KEY,
    structure_id  TEXT    NOT NULL,
    reporter      TEXT    NOT NULL,
    reported      TEXT    NOT NULL,
    room          TEXT,
    reason        TEXT    NOT NULL CHECK (reason IN ('abuse', 'spam', 'other')),
    text          TEXT    NOT NULL,
    stanza_ids    TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'new'
                          CHECK (status IN ('new', 'in_progress', 'closed')),
    created_ms    BIGINT  NOT NULL,
    updated_ms    BIGINT  NOT NULL
);
CREATE INDEX reports_structure ON reports (structure_id, id);
CREATE INDEX reports_reporter ON reports (reporter, created_ms);

-- The messages copied with a report at the time it was made (the reported ones and their
-- context), in the conversation's order: a later deletion of the archives does not erase
-- them. `sender` is the sender's bare JID, `stanza` the message as archived (XML).
CREATE TABLE report_messages (
    report_id  BIGINT  NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    pos        BIGINT  NOT NULL,
    stanza_id  TEXT    NOT NULL,
    sender     TEXT    NOT NULL,
    stanza     TEXT    NOT NULL,
    stamp_ms   BIGINT  NOT NULL,
    reported   BOOLEAN NOT NULL,
    PRIMARY KEY (report_id, pos)
);

-- The staff's notes on a report, oldest first.
CREATE TABLE report_notes (
    id          BIGSERIAL PRIMARY KEY,
    report_id   BIGINT  NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    author      TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL
);
CREATE INDEX report_notes_report ON report_notes (report_id, id);

-- A structure's designated safety staff, when its administrator named them (no row: the
-- default, its local administrators). `logins` space-separated. No foreign key, like
-- `structure_archive`.
CREATE TABLE structure_safety (
    structure_id  TEXT NOT NULL PRIMARY KEY,
    logins        TEXT NOT NULL
);
