-- Reverts 0002_affiliates.
BEGIN;
DROP TABLE clicks;
DROP TABLE referral_links;
DROP TABLE affiliate_invites;
DROP TABLE affiliates;
DROP TABLE campaigns;
COMMIT;
