-- Fails, changing nothing, while an endpoint or an event of Paddle,
-- Shopify or Braintree is stored: those rows have no place in the older
-- schema, and dropping them would lose the record of received events.
BEGIN;

ALTER TABLE billing_events DROP CONSTRAINT billing_events_provider_check;
ALTER TABLE billing_events ADD CONSTRAINT billing_events_provider_check
    CHECK (provider IN ('stripe', 'clerk'));

ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_provider_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_provider_check
    CHECK (provider IN ('stripe', 'clerk'));

COMMIT;
