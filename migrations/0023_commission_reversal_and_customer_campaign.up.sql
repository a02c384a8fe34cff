-- Who reversed a commission: the API, for a reason of the merchant's own,
-- which nothing afterwards undoes; or its provider's refund or dispute,
-- which a smaller refund total or a dispute won gives back.
--
-- The campaign a customer was attributed into, kept on the customer: a
-- promo code may later be moved to another campaign, and the customers it
-- brought before keep earning under the campaign they came in by, as a
-- link's customers do (a link's campaign never changes).
--
-- Both columns are nullable and carry no CHECK: the previous release keeps
-- serving on this schema during a rollout and writes neither. A row it
-- writes is read as before: a reversal is the provider's when its reason
-- is refunded or disputed, and a customer earns in its link's or promo
-- code's campaign.
BEGIN;

ALTER TABLE commissions ADD COLUMN reversed_by text CHECK (reversed_by IN ('api', 'provider'));
ALTER TABLE customers ADD COLUMN campaign_id uuid;
ALTER TABLE customers ADD CONSTRAINT customers_campaign_fkey
    FOREIGN KEY (org_id, campaign_id) REFERENCES campaigns (org_id, id);

-- A commission reversed before this migration was reversed by its
-- provider when the audit log says a provider reversed it; by the API
-- otherwise. A customer came in by the campaign of its earliest
-- commission, else by its link's or promo code's now. Row-level security
-- is forced on these tables, for their owner too: it is lifted for these
-- statements only, inside this transaction, which holds their exclusive
-- locks, so no other session ever sees it lifted.
ALTER TABLE commissions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE customers NO FORCE ROW LEVEL SECURITY;
ALTER TABLE conversions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY;
ALTER TABLE referral_links NO FORCE ROW LEVEL SECURITY;
ALTER TABLE promo_codes NO FORCE ROW LEVEL SECURITY;
UPDATE commissions c
   SET reversed_by = CASE WHEN EXISTS (
           SELECT 1 FROM audit_log a
            WHERE a.org_id = c.org_id AND a.target_type = 'commission' AND a.target_id = c.id::text
              AND a.action = 'commission.reversed' AND a.actor_type = 'provider')
       THEN 'provider' ELSE 'api' END
 WHERE c.status = 'reversed';
UPDATE customers c
   SET campaign_id = coalesce(
           (SELECT cm.campaign_id FROM commissions cm
              JOIN conversions cv ON cv.org_id = cm.org_id AND cv.id = cm.conversion_id
             WHERE cv.org_id = c.org_id AND cv.customer_id = c.id
             ORDER BY cv.occurred_at, cm.created_at LIMIT 1),
           (SELECT l.campaign_id FROM referral_links l WHERE l.org_id = c.org_id AND l.id = c.link_id),
           (SELECT p.campaign_id FROM promo_codes p WHERE p.org_id = c.org_id AND p.id = c.promo_code_id))
 WHERE c.affiliate_id IS NOT NULL;
ALTER TABLE commissions FORCE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
ALTER TABLE conversions FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE referral_links FORCE ROW LEVEL SECURITY;
ALTER TABLE promo_codes FORCE ROW LEVEL SECURITY;

COMMIT;
