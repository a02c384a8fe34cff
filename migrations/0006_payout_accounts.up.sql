-- Where an affiliate is paid, and when a commission changed state. A payout
-- through Stripe Connect transfers to the affiliate's connected account;
-- without one, payouts are settled by hand (the manual provider).
BEGIN;

ALTER TABLE affiliates
    ADD COLUMN stripe_account_id text CHECK (stripe_account_id ~ '^acct_[A-Za-z0-9]{1,250}$');

ALTER TABLE commissions
    ADD COLUMN approved_at timestamptz,
    ADD COLUMN paid_at     timestamptz,
    ADD COLUMN reversed_at timestamptz;

COMMIT;
