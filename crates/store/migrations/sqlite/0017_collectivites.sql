-- Collectivités (issue 18, « disponible selon collectivité »): a région, département or
-- commune, the structures it covers (a structure may be covered by several), its chat
-- access (which narrows each covered structure's own: crates/ent/src/collectivite.rs)
-- and the console's collectivité administrators. Keep in step with
-- ../postgres/0017_collectivites.sql: same tables, columns and constraints.

-- Fed by the directory (the import's `collectivites` list, the sync API).
CREATE TABLE collectivites (
    id    TEXT NOT NULL PRIMARY KEY,
    name  TEXT NOT NULL,
    kind  TEXT NOT NULL CHECK (kind IN ('region', 'departement', 'commune'))
);

-- Which structures each covers; removed with the collectivité or the structure.
CREATE TABLE collectivite_structures (
    collectivite_id  TEXT NOT NULL REFERENCES collectivites (id) ON DELETE CASCADE,
    structure_id     TEXT NOT NULL REFERENCES structures (id) ON DELETE CASCADE,
    PRIMARY KEY (collectivite_id, structure_id)
);
CREATE INDEX collectivite_structures_structure ON collectivite_structures (structure_id);

-- A collectivité's chat access, as `structure_access` (no row = enabled, all profiles).
-- No foreign key, for the same reason: the administrators' setting outlives an export
-- that lacks the collectivité once.
CREATE TABLE collectivite_access (
    collectivite_id  TEXT    NOT NULL PRIMARY KEY,
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    profiles         TEXT    NOT NULL
);

-- Collectivité administrators (granted by a super-administrator): they set the chat
-- access of the collectivité and of the structures it covers, and see nothing of their
-- users.
CREATE TABLE collectivite_admin_grants (
    login            TEXT NOT NULL,
    collectivite_id  TEXT NOT NULL,
    PRIMARY KEY (login, collectivite_id)
);
CREATE INDEX collectivite_admin_grants_collectivite ON collectivite_admin_grants (collectivite_id);
