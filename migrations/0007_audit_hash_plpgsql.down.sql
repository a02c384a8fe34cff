-- Reverts 0007_audit_hash_plpgsql: the same hash as a LANGUAGE sql function.
BEGIN;

CREATE OR REPLACE FUNCTION rekomi_audit_entry_hash(prev bytea, e audit_log) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
SELECT sha256(prev || convert_to(jsonb_build_array(
    e.org_id::text,
    e.seq,
    e.id::text,
    (extract(epoch FROM e.occurred_at) * 1000000)::bigint,
    e.actor_type,
    e.actor_id,
    e.action,
    e.target_type,
    e.target_id,
    text(e.ip),
    e.user_agent,
    e.request_id,
    e.metadata
)::text, 'UTF8'))
$$;

COMMIT;
