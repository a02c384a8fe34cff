BEGIN;

ALTER TABLE organizations
    DROP COLUMN payout_limit_per_payout,
    DROP COLUMN payout_limit_per_day;

COMMIT;
