-- Reverts 0011_route_key_lookup.
BEGIN;
DROP FUNCTION rekomi_route_lookup(text, text);
DROP POLICY keyed_lookup ON route_keys;
DROP POLICY tenant_select ON route_keys;
CREATE POLICY public_lookup ON route_keys FOR SELECT USING (true);
DROP FUNCTION rekomi_route_key();
COMMIT;
