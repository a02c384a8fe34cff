-- Reverts 0012_idempotency_per_api_key. Stored answers are only a retry
-- aid, and two keys' answers under one Idempotency-Key cannot share the
-- organization-wide key again: they are dropped.
BEGIN;

DELETE FROM idempotency_keys;
DROP INDEX idempotency_keys_api_key_key;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_api_key_fkey;
ALTER TABLE idempotency_keys DROP COLUMN api_key_id;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (org_id, key);

COMMIT;
