-- Back to plaintext personal fields: the data keys, the sealed columns and
-- their index go, and the hash function is that of 0007 with the fixed
-- search_path of 0014. Entries written with sealed fields no longer verify
-- after this, since what their hash covered is gone.
BEGIN;

DROP TABLE org_data_keys;
DROP FUNCTION rekomi_org_data_key_insert();

DO $migration$
DECLARE
    s text := pg_catalog.current_schema();
BEGIN
    EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION %1$I.rekomi_audit_entry_hash(prev bytea, e %1$I.audit_log) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
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
$$ $f$, s);
END
$migration$;

DROP INDEX audit_log_personal_index_idx;
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_personal_sealed,
    DROP COLUMN personal_index,
    DROP COLUMN personal;

COMMIT;
