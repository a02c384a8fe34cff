-- Fails, changing nothing, while a customer is attributed by a promo
-- code: the older schema has no way to say so.
BEGIN;

DROP INDEX billing_events_payload_idx;
CREATE INDEX billing_events_stripe_payload_idx ON billing_events USING gin (payload jsonb_path_ops) WHERE provider = 'stripe';

-- Row-level security is forced on customers, for its owner too, which
-- would see no row: it is lifted for the check only, inside this
-- transaction, which holds the table's exclusive lock, so no other session
-- ever sees it lifted.
ALTER TABLE customers NO FORCE ROW LEVEL SECURITY;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM customers WHERE promo_code_id IS NOT NULL) THEN
        RAISE EXCEPTION 'customers are attributed by promo codes; the older schema cannot hold them';
    END IF;
END $$;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
ALTER TABLE customers DROP COLUMN promo_code_id;

COMMIT;
