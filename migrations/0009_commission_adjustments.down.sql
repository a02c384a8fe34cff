-- Reverts 0009_commission_adjustments, dropping the recorded clawbacks.
BEGIN;
DROP INDEX billing_events_stripe_payload_idx;
DROP TABLE commission_adjustments;
COMMIT;
