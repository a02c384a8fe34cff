-- Paddle, Shopify and Braintree endpoints and their events. The provider
-- names the verifier a delivery goes through; the replay rule (one row per
-- organization, provider and event id) holds for every provider alike.
BEGIN;

ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_provider_check;
ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_provider_check
    CHECK (provider IN ('stripe', 'clerk', 'paddle', 'shopify', 'braintree'));

ALTER TABLE billing_events DROP CONSTRAINT billing_events_provider_check;
ALTER TABLE billing_events ADD CONSTRAINT billing_events_provider_check
    CHECK (provider IN ('stripe', 'clerk', 'paddle', 'shopify', 'braintree'));

COMMIT;
