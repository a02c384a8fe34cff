-- Clawbacks settled by payouts: a payout deducts the affiliate's
-- outstanding commission adjustments in its currency, and this table
-- records which. An adjustment is outstanding while no payout that has not
-- failed deducts it, so a failed payout gives its deductions back without
-- any row changing (like its items). The affiliate's row lock taken when a
-- payout is created keeps two payouts from deducting the same adjustment.
BEGIN;

CREATE TABLE payout_deductions (
    org_id        uuid   NOT NULL REFERENCES organizations (id),
    payout_id     uuid   NOT NULL,
    adjustment_id uuid   NOT NULL,
    amount        bigint NOT NULL CHECK (amount < 0),
    currency      text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (org_id, payout_id, adjustment_id),
    FOREIGN KEY (org_id, payout_id) REFERENCES payouts (org_id, id),
    FOREIGN KEY (org_id, adjustment_id) REFERENCES commission_adjustments (org_id, id)
);
CREATE INDEX payout_deductions_adjustment_idx ON payout_deductions (org_id, adjustment_id);

ALTER TABLE payout_deductions ENABLE ROW LEVEL SECURITY;
ALTER TABLE payout_deductions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payout_deductions
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
