-- Refunds and disputes reduce a sale's commissions by the share of the sale
-- they take back, to the cent, and a dispute won gives its share back.
--
-- sale_reductions records each refund and dispute of a sale as its provider
-- reports it: a refund by its id (or, for Stripe, its charge, whose
-- amount_refunded only grows), a dispute by its id with its state. What a
-- sale has lost is the sum of its refunds and of its disputes not won, at
-- most the sale's amount; each commission of the sale is reconciled to
-- lose the same share of what it earned.
BEGIN;

CREATE TABLE sale_reductions (
    org_id        uuid        NOT NULL REFERENCES organizations (id),
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    conversion_id uuid        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('refund', 'dispute')),
    source        text        NOT NULL CHECK (length(source) BETWEEN 1 AND 300),
    amount        bigint      NOT NULL CHECK (amount > 0),
    currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status        text        NOT NULL CHECK (status IN ('refunded', 'open', 'won', 'lost')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, conversion_id, kind, source),
    FOREIGN KEY (org_id, conversion_id) REFERENCES conversions (org_id, id),
    CHECK ((kind = 'refund') = (status = 'refunded'))
);

ALTER TABLE sale_reductions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sale_reductions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sale_reductions
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

-- What a commission earned before any reduction; NULL while it was never
-- reduced in place (then it is its amount).
ALTER TABLE commissions ADD COLUMN earned_amount bigint CHECK (earned_amount >= amount);

-- A commission that is paid, or held by a payout, is reduced or given back
-- by adjustments: negative to claw back, positive to restore, any number
-- of them, each settled on the affiliate's next payout.
ALTER TABLE commission_adjustments DROP CONSTRAINT commission_adjustments_org_id_commission_id_key;
ALTER TABLE commission_adjustments DROP CONSTRAINT commission_adjustments_amount_check;
ALTER TABLE commission_adjustments ADD CONSTRAINT commission_adjustments_amount_check CHECK (amount <> 0);
ALTER TABLE commission_adjustments DROP CONSTRAINT commission_adjustments_reason_check;
ALTER TABLE commission_adjustments ADD CONSTRAINT commission_adjustments_reason_check
    CHECK (reason IN ('refunded', 'disputed', 'dispute_won'));
CREATE INDEX commission_adjustments_commission_idx ON commission_adjustments (org_id, commission_id);
ALTER TABLE payout_deductions DROP CONSTRAINT payout_deductions_amount_check;
ALTER TABLE payout_deductions ADD CONSTRAINT payout_deductions_amount_check CHECK (amount <> 0);

-- Before this migration a refund or dispute took back the whole commission.
-- Each sale whose commission was reversed or clawed back for one is given
-- the reduction that says so, so reconciling it later changes nothing.
-- Row-level security is forced on these tables, for their owner too: it is
-- lifted for this statement only, inside this transaction, which holds
-- their exclusive locks, so no other session ever sees it lifted.
ALTER TABLE commissions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE commission_adjustments NO FORCE ROW LEVEL SECURITY;
ALTER TABLE conversions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sale_reductions NO FORCE ROW LEVEL SECURITY;
INSERT INTO sale_reductions (org_id, conversion_id, kind, source, amount, currency, status)
SELECT DISTINCT cv.org_id, cv.id,
       CASE WHEN r.reason = 'refunded' THEN 'refund' ELSE 'dispute' END,
       'before-proportional-reductions', cv.amount, cv.currency,
       CASE WHEN r.reason = 'refunded' THEN 'refunded' ELSE 'open' END
  FROM (SELECT org_id, conversion_id, reversed_reason AS reason FROM commissions
         WHERE status = 'reversed' AND reversed_reason IN ('refunded', 'disputed')
        UNION
        SELECT c.org_id, c.conversion_id, a.reason FROM commission_adjustments a
          JOIN commissions c ON c.org_id = a.org_id AND c.id = a.commission_id) r
  JOIN conversions cv ON cv.org_id = r.org_id AND cv.id = r.conversion_id
 WHERE cv.kind = 'sale' AND cv.amount > 0;
ALTER TABLE commissions FORCE ROW LEVEL SECURITY;
ALTER TABLE commission_adjustments FORCE ROW LEVEL SECURITY;
ALTER TABLE conversions FORCE ROW LEVEL SECURITY;
ALTER TABLE sale_reductions FORCE ROW LEVEL SECURITY;

COMMIT;
