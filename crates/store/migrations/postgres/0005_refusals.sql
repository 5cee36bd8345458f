-- Contact requests refused for good (issue 12): the account refused the requester's
-- request, and later requests from him are not delivered until the account itself asks
-- him or pre-approves him. Kept apart from the requester's roster item, which he may
-- remove and add again. Keep in step with ../sqlite/0005_refusals.sql.
CREATE TABLE refusals (
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    requester   TEXT   NOT NULL,
    refused_ms  BIGINT NOT NULL,
    PRIMARY KEY (account_id, requester)
);
