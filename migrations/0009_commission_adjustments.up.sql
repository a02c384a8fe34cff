-- Clawbacks of commissions already paid, or held by a payout, when their
-- sale is refunded or disputed: such a commission cannot be reversed, so a
-- negative adjustment records what the affiliate owes back, to be settled
-- against a later payout. A commission is clawed back at most once,
-- whatever the reason and however often the provider's events arrive: the
-- clawback is the whole commission.
BEGIN;

CREATE TABLE commission_adjustments (
    org_id        uuid        NOT NULL REFERENCES organizations (id),
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    commission_id uuid        NOT NULL,
    affiliate_id  uuid        NOT NULL,
    amount        bigint      NOT NULL CHECK (amount < 0),
    currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason        text        NOT NULL CHECK (reason IN ('refunded', 'disputed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, commission_id),
    FOREIGN KEY (org_id, commission_id) REFERENCES commissions (org_id, id),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id)
);
CREATE INDEX commission_adjustments_affiliate_idx ON commission_adjustments (org_id, affiliate_id, created_at);

ALTER TABLE commission_adjustments ENABLE ROW LEVEL SECURITY;
ALTER TABLE commission_adjustments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON commission_adjustments
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

-- A refund or dispute finds its invoice, and a newly paid invoice the
-- refunds and disputes delivered before it, among the stored Stripe events
-- by containment (payload @> '{"type": ..., "data": {"object": ...}}'):
-- the ids involved are random, so a match is a handful of rows however
-- many events an organization has.
CREATE INDEX billing_events_stripe_payload_idx ON billing_events USING gin (payload jsonb_path_ops) WHERE provider = 'stripe';

COMMIT;
