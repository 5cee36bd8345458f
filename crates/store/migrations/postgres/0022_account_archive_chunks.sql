-- SQLite's accounts' archive moves to chunks in its migration 0022 (one row per owner and
-- batch of the archive writer, behind a view with the table's columns). PostgreSQL keeps
-- a row per message: a cluster's nodes write their batches through one pool, each its
-- own, and no node holds a batch for every owner; its indexes are what its readers use.
-- Nothing changes here; this file keeps the two migration lists in step.
COMMENT ON TABLE account_archive IS
    'One 1:1 message in one account''s archive (XEP-0313); SQLite keeps them in chunks.';
