-- A customer may be attributed by a promo code its sale carries, when no
-- click or link code attributes it: then its promo code, not a link,
-- names the affiliate and the campaign. Which of the three attributed it
-- follows from which is set (click_id, link_id alone, promo_code_id).
--
-- The stored events of every provider are searched by containment, as
-- Stripe's were: a refund or dispute stored before its sale is found when
-- the sale is recorded.
BEGIN;

ALTER TABLE customers ADD COLUMN promo_code_id uuid;
ALTER TABLE customers ADD CONSTRAINT customers_promo_code_fkey
    FOREIGN KEY (org_id, promo_code_id) REFERENCES promo_codes (org_id, id);
ALTER TABLE customers ADD CONSTRAINT customers_one_referral_check
    CHECK (link_id IS NULL OR promo_code_id IS NULL);
CREATE INDEX customers_promo_code_idx ON customers (org_id, promo_code_id) WHERE promo_code_id IS NOT NULL;

DROP INDEX billing_events_stripe_payload_idx;
CREATE INDEX billing_events_payload_idx ON billing_events USING gin (payload jsonb_path_ops);

COMMIT;
