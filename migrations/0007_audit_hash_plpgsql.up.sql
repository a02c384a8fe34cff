-- The audit entry hash as a PL/pgSQL function. The text it hashes is
-- exactly that of 0004, so every stored chain still verifies; only the
-- execution changes. A LANGUAGE sql function called from the chain trigger
-- is parsed and planned again in every transaction, which made an append
-- several times dearer than the insert it records; PL/pgSQL keeps its plan
-- for the session.
BEGIN;

CREATE OR REPLACE FUNCTION rekomi_audit_entry_hash(prev bytea, e audit_log) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN sha256(prev || convert_to(jsonb_build_array(
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
    )::text, 'UTF8'));
END
$$;

COMMIT;
