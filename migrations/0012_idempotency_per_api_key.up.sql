-- A stored answer belongs to the API key that made the request, not to its
-- whole organization: another key of the organization sending the same
-- Idempotency-Key runs its own request and never reads the first key's
-- answer, which may hold a secret shown once (a new key, an invite token).
-- Answers stored before this migration name no key. They are kept until
-- they expire (24 hours), so that a retry of one of them is not run twice:
-- the app finds them for any key of the organization and, since their seal
-- does not name a key, refuses the request with 409 instead of replaying.
BEGIN;

ALTER TABLE idempotency_keys ADD COLUMN api_key_id uuid;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_api_key_fkey
    FOREIGN KEY (org_id, api_key_id) REFERENCES api_keys (org_id, id);
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
CREATE UNIQUE INDEX idempotency_keys_api_key_key ON idempotency_keys (org_id, api_key_id, key);

COMMIT;
