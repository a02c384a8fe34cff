-- Idempotency keys of the API's POST requests, kept 24 hours. A row is
-- written in the same transaction as the effect of the request it answers,
-- so a stored answer always has its effect and an effect always has its
-- stored answer. request_hash is SHA-256 over the method, path and body: a
-- reused key with another request is refused, not replayed.
BEGIN;

CREATE TABLE idempotency_keys (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    key          text        NOT NULL CHECK (key ~ '^[ -~]{1,255}$'),
    request_hash bytea       NOT NULL CHECK (length(request_hash) = 32),
    status       integer     NOT NULL CHECK (status BETWEEN 100 AND 599),
    content_type text        NOT NULL CHECK (length(content_type) <= 255),
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
-- Serves the sweep of expired keys.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (org_id, created_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
