-- Reverts 0010_payout_deductions.
BEGIN;
DROP TABLE payout_deductions;
COMMIT;
