-- Reverts the rehearsal migration.
BEGIN;
ALTER TABLE referral_links DROP COLUMN upgrade_probe;
DROP TABLE upgrade_probes;
COMMIT;
