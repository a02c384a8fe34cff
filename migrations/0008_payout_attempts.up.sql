-- A payout that fails keeps its payout_items, the append-only record of
-- what that attempt tried to pay, and releases its commissions so a later
-- payout can pay them. The global UNIQUE (org_id, commission_id) forbade
-- that second row; commissions.payout_id, which points at the one payout
-- currently paying a commission, is what keeps it from being paid twice.
-- An index still finds every attempt that included a commission.
BEGIN;

ALTER TABLE payout_items DROP CONSTRAINT payout_items_org_id_commission_id_key;
CREATE INDEX payout_items_commission_idx ON payout_items (org_id, commission_id);

COMMIT;
