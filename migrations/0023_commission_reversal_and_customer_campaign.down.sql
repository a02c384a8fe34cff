-- The older schema tells a provider's reversal from the API's by its
-- reason alone, and reads a customer's campaign from its link or promo
-- code as they are now.
BEGIN;

ALTER TABLE customers DROP COLUMN campaign_id;
ALTER TABLE commissions DROP COLUMN reversed_by;

COMMIT;
