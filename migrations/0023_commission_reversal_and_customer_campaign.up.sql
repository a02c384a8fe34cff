-- Who reversed a commission: the API, for a reason of the merchant's own,
-- which nothing afterwards undoes; or its provider's refund or dispute,
-- which a smaller refund total or a dispute won gives back.
--
-- The campaign a customer was attributed into, kept on the customer: a
-- promo code may later be moved to another campaign, and the customers it
-- brought before keep earning under the campaign they came in by, as a
-- link's customers do (a link's campaign never changes).
BEGIN;

ALTER TABLE commissions ADD COLUMN reversed_by text CHECK (reversed_by IN ('api', 'provider'));
ALTER TABLE customers ADD COLUMN campaign_id uuid;
ALTER TABLE customers ADD CONSTRAINT customers_campaign_fkey
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id);

-- A commission reversed before this migration was reversed by its
-- provider when a refund or dispute of its sale is recorded and the
-- reversal says so; by the API otherwise. Row-level security is forced on
-- these tables, for their owner too: it is lifted for these statements
-- only, inside this transaction, which holds their exclusive locks, so no
-- other session ever sees it lifted.
ALTER TABLE commissions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE customers NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sale_reductions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE referral_links NO FORCE ROW LEVEL SECURITY;
ALTER TABLE promo_codes NO FORCE ROW LEVEL SECURITY;
UPDATE commissions c
   SET reversed_by = CASE WHEN c.reversed_reason IN ('refunded', 'disputed') AND EXISTS (
           SELECT 1 FROM sale_reductions r WHERE r.org_id = c.org_id AND r.conversion_id = c.conversion_id)
       THEN 'provider' ELSE 'api' END
 WHERE c.status = 'reversed';
UPDATE customers c
   SET campaign_id = coalesce(
           (SELECT l.campaign_id FROM referral_links l WHERE l.org_id = c.org_id AND l.id = c.link_id),
           (SELECT p.campaign_id FROM promo_codes p WHERE p.org_id = c.org_id AND p.id = c.promo_code_id))
 WHERE c.affiliate_id IS NOT NULL;
ALTER TABLE commissions FORCE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
ALTER TABLE sale_reductions FORCE ROW LEVEL SECURITY;
ALTER TABLE referral_links FORCE ROW LEVEL SECURITY;
ALTER TABLE promo_codes FORCE ROW LEVEL SECURITY;

ALTER TABLE commissions ADD CONSTRAINT commissions_reversed_by_status_check
    CHECK ((status = 'reversed') = (reversed_by IS NOT NULL));
ALTER TABLE customers ADD CONSTRAINT customers_campaign_attributed_check
    CHECK ((affiliate_id IS NULL) = (campaign_id IS NULL));

COMMIT;
