-- Promo codes: a code a merchant hands an affiliate to share (a coupon
-- typed at checkout), naming the affiliate and campaign to credit for a
-- sale that carries it when no click attributes the sale. Codes belong to
-- one organization: two merchants may each have SPRING.
--
-- A code is stored as the merchant wrote it and matched without regard to
-- case (merchants type SPRING, checkouts send spring), so it is unique per
-- organization in lower case. It is 1 to 64 ASCII letters, digits, - and
-- _ (Stripe's promotion codes take letters and digits, Paddle's letters
-- and digits up to 32): with ASCII alone, lower case under the "C"
-- collation folds A-Z and nothing else, whatever the database's locale.
-- A code stays taken once created, disabled or not, so a sale carrying an
-- old code never credits someone new.
BEGIN;

CREATE TABLE promo_codes (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    code         text        NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,64}$'),
    affiliate_id uuid        NOT NULL,
    campaign_id  uuid        NOT NULL,
    disabled_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, affiliate_id) REFERENCES affiliates (org_id, id),
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id)
);
CREATE UNIQUE INDEX promo_codes_code_key ON promo_codes (org_id, lower(code COLLATE "C"));
CREATE INDEX promo_codes_affiliate_idx ON promo_codes (org_id, affiliate_id);
CREATE INDEX promo_codes_campaign_idx ON promo_codes (org_id, campaign_id);

ALTER TABLE promo_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE promo_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON promo_codes
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
