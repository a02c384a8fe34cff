-- Reverts 0005_idempotency_keys. Stored answers are only a retry aid.
BEGIN;
DROP TABLE idempotency_keys;
COMMIT;
