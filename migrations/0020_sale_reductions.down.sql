-- Fails, changing nothing, while a commission has more than one
-- adjustment or a positive one, which the older schema cannot hold.
BEGIN;

ALTER TABLE payout_deductions DROP CONSTRAINT payout_deductions_amount_check;
ALTER TABLE payout_deductions ADD CONSTRAINT payout_deductions_amount_check CHECK (amount < 0);
DROP INDEX commission_adjustments_commission_idx;
ALTER TABLE commission_adjustments DROP CONSTRAINT commission_adjustments_reason_check;
ALTER TABLE commission_adjustments ADD CONSTRAINT commission_adjustments_reason_check
    CHECK (reason IN ('refunded', 'disputed'));
ALTER TABLE commission_adjustments DROP CONSTRAINT commission_adjustments_amount_check;
ALTER TABLE commission_adjustments ADD CONSTRAINT commission_adjustments_amount_check CHECK (amount < 0);
ALTER TABLE commission_adjustments ADD CONSTRAINT commission_adjustments_org_id_commission_id_key UNIQUE (org_id, commission_id);

ALTER TABLE commissions DROP COLUMN earned_amount;
DROP TABLE sale_reductions;

COMMIT;
