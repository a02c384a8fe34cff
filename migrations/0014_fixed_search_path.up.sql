-- Functions resolve names the same way whoever calls them, and the database
-- alone dates and identifies audit entries.
--
-- Until now function bodies named tables without a schema and ran with the
-- caller's search_path, where the caller's temporary schema comes first for
-- tables and types: a role that may create temporary tables could create a
-- temporary audit_log and have the chain trigger read a forged chain head
-- from it. Every function now runs with search_path = pg_catalog, pg_temp
-- (built-ins first, temporary objects last, the schema not at all) and
-- names the schema's own tables and functions with their schema: the one
-- this migration runs in, as every migration here assumes. Triggers and
-- policies already name their functions by OID.
--
-- The chain trigger no longer keeps a client-supplied id or occurred_at, so
-- an entry cannot be backdated. A revoked API key stays revoked: revoked_at,
-- once set, never changes (the runtime role may update no other column).
BEGIN;

DO $migration$
DECLARE
    s text := pg_catalog.current_schema();
BEGIN
    EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION %1$I.rekomi_audit_log_chain() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_log'), hashtext(NEW.org_id::text));
    SELECT a.seq, a.hash INTO last_seq, last_hash
      FROM %1$I.audit_log a
     WHERE a.org_id = NEW.org_id
     ORDER BY a.seq DESC
     LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
    NEW.id := gen_random_uuid();
    NEW.occurred_at := now();
    NEW.hash := %1$I.rekomi_audit_entry_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END
$$ $f$, s);

    EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION %1$I.rekomi_route_lookup(lookup_kind text, lookup_key text)
    RETURNS TABLE (org_id uuid, target_id uuid)
    LANGUAGE plpgsql VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM set_config('rekomi.route_key', lookup_key, true);
    RETURN QUERY SELECT r.org_id, r.target_id FROM %1$I.route_keys r WHERE r.kind = lookup_kind AND r.key = lookup_key;
END
$$ $f$, s);
END
$migration$;

-- These name nothing of the schema; only their search_path is fixed.
ALTER FUNCTION rekomi_current_org() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekomi_route_key() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekomi_audit_log_append_only() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekomi_audit_entry_hash(bytea, audit_log) SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION rekomi_api_key_revocation_is_final() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'API key % is revoked, and a revocation is final', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER api_keys_revocation_is_final
    BEFORE UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION rekomi_api_key_revocation_is_final();

COMMIT;
