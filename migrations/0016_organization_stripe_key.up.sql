-- Each organization pays its affiliates from its own Stripe account: its
-- Stripe secret key, sealed by the operator with the Region's key ring
-- (AES-256-GCM, associated data binding it to the organization's id), and
-- opened by the app only to send that organization's transfers and to look
-- up the accounts it connects. NULL: the organization has no Stripe key and
-- offers manual payouts only. No Region-wide key moves a tenant's money.
BEGIN;

ALTER TABLE organizations ADD COLUMN stripe_secret_key_sealed bytea;

COMMIT;
