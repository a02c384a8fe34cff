-- Back to functions that run with the caller's search_path, a chain
-- trigger that keeps a client-supplied id and occurred_at, and revocable
-- revocations (the bodies of 0004 and 0011).
BEGIN;

DROP TRIGGER api_keys_revocation_is_final ON api_keys;
DROP FUNCTION rekomi_api_key_revocation_is_final();

ALTER FUNCTION rekomi_audit_entry_hash(bytea, audit_log) RESET search_path;
ALTER FUNCTION rekomi_audit_log_append_only() RESET search_path;
ALTER FUNCTION rekomi_route_key() RESET search_path;
ALTER FUNCTION rekomi_current_org() RESET search_path;

CREATE OR REPLACE FUNCTION rekomi_route_lookup(lookup_kind text, lookup_key text)
    RETURNS TABLE (org_id uuid, target_id uuid)
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM set_config('rekomi.route_key', lookup_key, true);
    RETURN QUERY SELECT r.org_id, r.target_id FROM route_keys r WHERE r.kind = lookup_kind AND r.key = lookup_key;
END
$$;

CREATE OR REPLACE FUNCTION rekomi_audit_log_chain() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_log'), hashtext(NEW.org_id::text));
    SELECT a.seq, a.hash INTO last_seq, last_hash
      FROM audit_log a
     WHERE a.org_id = NEW.org_id
     ORDER BY a.seq DESC
     LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
    NEW.id := coalesce(NEW.id, gen_random_uuid());
    NEW.occurred_at := coalesce(NEW.occurred_at, now());
    NEW.hash := rekomi_audit_entry_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END
$$;

COMMIT;
