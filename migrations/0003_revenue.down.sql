-- Reverts 0003_revenue.
BEGIN;
DROP TABLE billing_events;
DROP TABLE payout_items;
DROP TABLE commissions;
DROP TABLE payouts;
DROP TABLE conversions;
DROP TABLE customers;
COMMIT;
