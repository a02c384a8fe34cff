-- Reverts 0008_payout_attempts. Fails while a commission appears in more
-- than one payout (a failed attempt and a later one): those rows are
-- append-only history and are not deleted here.
BEGIN;
DROP INDEX payout_items_commission_idx;
ALTER TABLE payout_items ADD CONSTRAINT payout_items_org_id_commission_id_key UNIQUE (org_id, commission_id);
COMMIT;
