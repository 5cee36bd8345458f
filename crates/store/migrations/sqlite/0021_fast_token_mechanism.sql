-- The XEP-0484 mechanism each FAST token was issued for (issue 14): a token asked for
-- a bound mechanism (HT-SHA-256-EXPR, HT-SHA-256-ENDP) must not log in with another
-- one, HT-SHA-256-NONE included (XEP-0484, "Client authenticates using FAST"), so the
-- check needs it. Tokens issued before this column were all HT-SHA-256-NONE's.
-- Keep in step with ../postgres/0021_fast_token_mechanism.sql.
ALTER TABLE fast_tokens ADD COLUMN mechanism TEXT NOT NULL DEFAULT 'HT-SHA-256-NONE';
