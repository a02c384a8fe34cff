-- Reverts 0001_tenancy.
BEGIN;
DROP TABLE webhook_endpoints;
DROP TABLE api_keys;
DROP TABLE members;
DROP TABLE route_keys;
DROP TABLE organizations;
DROP FUNCTION rekomi_current_org();
COMMIT;
