-- A directory user's functions in his structures (issue 16: the CPE and the direction
-- read reports until the school names its safety staff): lowercase words separated by
-- commas, '' for none.
ALTER TABLE directory_users ADD COLUMN functions TEXT NOT NULL DEFAULT '';
