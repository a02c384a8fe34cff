-- The routing table is no longer readable as a whole. A row is visible to
-- its own organization, and to a lookup that names its exact key:
-- rekomi_route_lookup sets the key for its transaction, then reads the row.
-- Whoever holds a link code, an endpoint id or a key prefix can resolve it;
-- nobody, the runtime role included, can list the others.
BEGIN;

-- The key a lookup named, set only with set_config('rekomi.route_key', $1,
-- true) by rekomi_route_lookup; NULL (no row) outside one.
CREATE FUNCTION rekomi_route_key() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('rekomi.route_key', true), '') $$;

DROP POLICY public_lookup ON route_keys;
CREATE POLICY tenant_select ON route_keys FOR SELECT
    USING (org_id = (SELECT rekomi_current_org()));
CREATE POLICY keyed_lookup ON route_keys FOR SELECT
    USING (key = (SELECT rekomi_route_key()));

-- Resolves one key to its organization and target, in one statement. It
-- runs with its caller's rights, so row-level security applies to it.
CREATE FUNCTION rekomi_route_lookup(lookup_kind text, lookup_key text)
    RETURNS TABLE (org_id uuid, target_id uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM set_config('rekomi.route_key', lookup_key, true);
    RETURN QUERY SELECT r.org_id, r.target_id FROM route_keys r WHERE r.kind = lookup_kind AND r.key = lookup_key;
END
$$;

COMMIT;
