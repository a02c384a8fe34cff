-- Money: customers attributed to a click, their conversions, the commissions
-- those earn, the payouts that settle them, and the provider billing events
-- that drive it all. Amounts are integer minor units plus an ISO 4217
-- currency, never floating point.
BEGIN;

CREATE TABLE customers (
    org_id        uuid        NOT NULL REFERENCES organizations (id),
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    external_id   text        CHECK (length(external_id) BETWEEN 1 AND 255),
    email         text        CHECK (length(email) <= 320),
    affiliate_id  uuid,
    link_id       uuid,
    click_id      bigint,
    attributed_at timestamptz,
    self_referral boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, external_id),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id),
    FOREIGN KEY (org_id, link_id) REFERENCES referral_links (org_id, id),
    FOREIGN KEY (org_id, click_id) REFERENCES clicks (org_id, id)
);
CREATE INDEX customers_affiliate_idx ON customers (org_id, affiliate_id);

CREATE TABLE conversions (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    customer_id  uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('lead', 'sale')),
    external_id  text        CHECK (length(external_id) BETWEEN 1 AND 255),
    amount       bigint      NOT NULL DEFAULT 0 CHECK (amount >= 0),
    currency     text        CHECK (currency ~ '^[A-Z]{3}$'),
    affiliate_id uuid,
    campaign_id  uuid,
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, kind, external_id),
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id),
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id),
    CHECK (kind = 'lead' OR currency IS NOT NULL)
);
CREATE INDEX conversions_customer_idx ON conversions (org_id, customer_id, occurred_at);

CREATE TABLE payouts (
    org_id         uuid        NOT NULL REFERENCES organizations (id),
    id             uuid        NOT NULL DEFAULT gen_random_uuid(),
    affiliate_id   uuid        NOT NULL,
    amount         bigint      NOT NULL CHECK (amount > 0),
    currency       text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    provider       text        NOT NULL CHECK (provider IN ('stripe_connect', 'manual')),
    status         text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dispatched', 'paid', 'failed')),
    provider_ref   text        CHECK (length(provider_ref) <= 255),
    failure_reason text        CHECK (length(failure_reason) <= 1000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    dispatched_at  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id)
);
CREATE INDEX payouts_affiliate_idx ON payouts (org_id, affiliate_id, created_at);

CREATE TABLE commissions (
    org_id          uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    conversion_id   uuid        NOT NULL,
    affiliate_id    uuid        NOT NULL,
    campaign_id     uuid        NOT NULL,
    amount          bigint      NOT NULL CHECK (amount > 0),
    currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'paid', 'reversed')),
    approve_after   timestamptz NOT NULL,
    reversed_reason text        CHECK (length(reversed_reason) <= 1000),
    payout_id       uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, conversion_id) REFERENCES conversions (org_id, id),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id),
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id),
    FOREIGN KEY (org_id, payout_id) REFERENCES payouts (org_id, id),
    CHECK ((status = 'reversed') = (reversed_reason IS NOT NULL))
);
CREATE INDEX commissions_affiliate_idx ON commissions (org_id, affiliate_id, status);
CREATE INDEX commissions_conversion_idx ON commissions (org_id, conversion_id);

-- A commission is paid by at most one payout.
CREATE TABLE payout_items (
    org_id        uuid   NOT NULL REFERENCES organizations (id),
    payout_id     uuid   NOT NULL,
    commission_id uuid   NOT NULL,
    amount        bigint NOT NULL CHECK (amount > 0),
    currency      text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (org_id, payout_id, commission_id),
    UNIQUE (org_id, commission_id),
    FOREIGN KEY (org_id, payout_id) REFERENCES payouts (org_id, id),
    FOREIGN KEY (org_id, commission_id) REFERENCES commissions (org_id, id)
);

-- One row per provider event: the unique key turns a replayed delivery into
-- a no-op (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE billing_events (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    endpoint_id  uuid        NOT NULL,
    provider     text        NOT NULL CHECK (provider IN ('stripe', 'clerk')),
    event_id     text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 255),
    type         text        NOT NULL CHECK (length(type) BETWEEN 1 AND 255),
    payload      jsonb       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, provider, event_id),
    FOREIGN KEY (org_id, endpoint_id) REFERENCES webhook_endpoints (org_id, id)
);

ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customers
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE conversions ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON conversions
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE payouts ENABLE ROW LEVEL SECURITY;
ALTER TABLE payouts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payouts
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE commissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE commissions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON commissions
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE payout_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE payout_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON payout_items
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE billing_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE billing_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON billing_events
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
