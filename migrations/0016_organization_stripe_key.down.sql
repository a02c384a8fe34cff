BEGIN;

ALTER TABLE organizations DROP COLUMN stripe_secret_key_sealed;

COMMIT;
