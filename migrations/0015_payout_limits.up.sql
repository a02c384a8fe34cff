-- Per-organization payout limits, in minor units of the payout's currency:
-- the most one payout may pay, and the most the organization's payouts in
-- one currency may pay over any 24 hours. They bound what a stolen write
-- key can send out. The operator writes them from Organization.spec; the
-- defaults are 10,000.00 and 25,000.00.
BEGIN;

ALTER TABLE organizations
    ADD COLUMN payout_limit_per_payout bigint NOT NULL DEFAULT 1000000 CHECK (payout_limit_per_payout > 0),
    ADD COLUMN payout_limit_per_day    bigint NOT NULL DEFAULT 2500000 CHECK (payout_limit_per_day > 0);

COMMIT;
