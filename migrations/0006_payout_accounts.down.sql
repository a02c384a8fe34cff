-- Reverts 0006_payout_accounts.
BEGIN;
ALTER TABLE commissions DROP COLUMN approved_at, DROP COLUMN paid_at, DROP COLUMN reversed_at;
ALTER TABLE affiliates DROP COLUMN stripe_account_id;
COMMIT;
