-- Campaigns and the affiliates who promote them: invites, referral links and
-- the clicks those links receive. Foreign keys between tenant tables carry
-- org_id, so a row can only ever point at a row of its own organization.
BEGIN;

-- Commission rules. Money is integer minor units plus an ISO 4217 currency;
-- a percentage is in basis points (1000 = 10%).
CREATE TABLE campaigns (
    org_id                  uuid        NOT NULL REFERENCES organizations (id),
    id                      uuid        NOT NULL DEFAULT gen_random_uuid(),
    name                    text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency                text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    commission_type         text        NOT NULL CHECK (commission_type IN ('percentage', 'flat')),
    commission_bps          integer     CHECK (commission_bps BETWEEN 1 AND 10000),
    commission_amount       bigint      CHECK (commission_amount > 0),
    recurrence              text        NOT NULL DEFAULT 'one_time' CHECK (recurrence IN ('one_time', 'recurring', 'lifetime')),
    recurring_months        integer     CHECK (recurring_months BETWEEN 1 AND 120),
    attribution_window_days integer     NOT NULL DEFAULT 60 CHECK (attribution_window_days BETWEEN 1 AND 365),
    attribution_model       text        NOT NULL DEFAULT 'last_click' CHECK (attribution_model IN ('first_click', 'last_click')),
    hold_days               integer     NOT NULL DEFAULT 30 CHECK (hold_days BETWEEN 0 AND 365),
    min_payout_amount       bigint      NOT NULL DEFAULT 0 CHECK (min_payout_amount >= 0),
    archived_at             timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name),
    CHECK ((commission_type = 'percentage') = (commission_bps IS NOT NULL)),
    CHECK ((commission_type = 'flat') = (commission_amount IS NOT NULL)),
    CHECK ((recurrence = 'recurring') = (recurring_months IS NOT NULL))
);

CREATE TABLE affiliates (
    org_id      uuid        NOT NULL REFERENCES organizations (id),
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    email       text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    name        text        CHECK (length(name) <= 200),
    status      text        NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'pending', 'active', 'suspended')),
    approved_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, email)
);

-- Only a hash of the invite token is kept.
CREATE TABLE affiliate_invites (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    affiliate_id uuid        NOT NULL,
    campaign_id  uuid,
    token_hash   bytea       NOT NULL CHECK (length(token_hash) = 32),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, token_hash),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id),
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id)
);
CREATE INDEX affiliate_invites_affiliate_idx ON affiliate_invites (org_id, affiliate_id);

CREATE TABLE referral_links (
    org_id          uuid        NOT NULL REFERENCES organizations (id),
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    affiliate_id    uuid        NOT NULL,
    campaign_id     uuid        NOT NULL,
    code            text        NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{4,64}$'),
    destination_url text        NOT NULL CHECK (destination_url ~ '^https?://' AND length(destination_url) <= 2048),
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, code),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id),
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id)
);
CREATE INDEX referral_links_affiliate_idx ON referral_links (org_id, affiliate_id);
CREATE INDEX referral_links_campaign_idx ON referral_links (org_id, campaign_id);

-- High volume: written in batches, never updated. ip is stored truncated in
-- EU regions; is_bot clicks are kept but never attributed.
CREATE TABLE clicks (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    link_id      uuid        NOT NULL,
    visitor_id   uuid        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    ip           inet,
    user_agent   text        CHECK (length(user_agent) <= 1024),
    referrer     text        CHECK (length(referrer) <= 2048),
    is_bot       boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, link_id) REFERENCES referral_links (org_id, id)
);
CREATE INDEX clicks_link_idx ON clicks (org_id, link_id, occurred_at);
CREATE INDEX clicks_visitor_idx ON clicks (org_id, visitor_id, occurred_at);

ALTER TABLE campaigns ENABLE ROW LEVEL SECURITY;
ALTER TABLE campaigns FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON campaigns
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE affiliates ENABLE ROW LEVEL SECURITY;
ALTER TABLE affiliates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON affiliates
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE affiliate_invites ENABLE ROW LEVEL SECURITY;
ALTER TABLE affiliate_invites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON affiliate_invites
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE referral_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE referral_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON referral_links
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE clicks ENABLE ROW LEVEL SECURITY;
ALTER TABLE clicks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clicks
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
