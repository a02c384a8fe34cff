-- Purge forgets people but keeps the proof. The personal fields of an audit
-- entry (IP address, user agent, and the emails and URLs callers used to
-- put in metadata) are sealed by the app with AES-256-GCM under a data key
-- of the organization, into audit_log.personal; the plaintext ip and
-- user_agent columns stay empty from now on, which a check enforces for
-- every new row (entries written before this migration keep theirs).
-- personal_index holds keyed blind indexes (HMAC-SHA256 under another key
-- derived from the data key) for exact-match search.
--
-- Each organization's data key is random and stored sealed with the
-- Region's key ring in org_data_keys, one row per organization, which the
-- runtime role may insert and read but neither replace nor delete. Purge
-- deletes the row: the sealed fields of the kept entries can then be
-- opened by no one, while the chain still verifies, because the hash
-- covers the sealed bytes, not the plaintext.
--
-- The hash function covers the two new columns only when one of them is
-- set: an entry without them hashes to exactly the text of 0004, so every
-- stored chain keeps verifying. Bytes enter the hashed text as lower-case
-- hex, which depends on no session setting (bytea_output does not apply).
--
-- A key is inserted under the organization's audit lock (the one the chain
-- trigger takes), after which the organization's status is read afresh: a
-- purge takes that lock before it deletes the key, so a key is either
-- inserted before the purge, and deleted by it, or refused after it.
BEGIN;

ALTER TABLE audit_log
    ADD COLUMN personal       bytea   CHECK (length(personal) <= 16384),
    ADD COLUMN personal_index bytea[] CHECK (cardinality(personal_index) <= 64);
ALTER TABLE audit_log
    ADD CONSTRAINT audit_log_personal_sealed CHECK (ip IS NULL AND user_agent IS NULL) NOT VALID;
CREATE INDEX audit_log_personal_index_idx ON audit_log USING gin (personal_index);

CREATE TABLE org_data_keys (
    org_id     uuid        PRIMARY KEY REFERENCES organizations (id),
    sealed_key bytea       NOT NULL CHECK (length(sealed_key) <= 256),
    created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE org_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_data_keys
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

DO $migration$
DECLARE
    s text := pg_catalog.current_schema();
BEGIN
    EXECUTE pg_catalog.format($f$
CREATE OR REPLACE FUNCTION %1$I.rekomi_audit_entry_hash(prev bytea, e %1$I.audit_log) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    fields jsonb := jsonb_build_array(
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
    );
BEGIN
    IF e.personal IS NOT NULL OR e.personal_index IS NOT NULL THEN
        fields := fields || jsonb_build_array(
            encode(e.personal, 'hex'),
            CASE WHEN e.personal_index IS NOT NULL THEN
                to_jsonb(ARRAY(SELECT encode(u.x, 'hex') FROM unnest(e.personal_index) WITH ORDINALITY AS u(x, n) ORDER BY u.n))
            END
        );
    END IF;
    RETURN sha256(prev || convert_to(fields::text, 'UTF8'));
END
$$ $f$, s);

    EXECUTE pg_catalog.format($f$
CREATE FUNCTION %1$I.rekomi_org_data_key_insert() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    org_status text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_log'), hashtext(NEW.org_id::text));
    SELECT o.status INTO org_status FROM %1$I.organizations o WHERE o.id = NEW.org_id;
    IF org_status = 'purged' THEN
        RAISE EXCEPTION 'organization %% is purged: it gets no data key', NEW.org_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.created_at := now();
    RETURN NEW;
END
$$ $f$, s);
END
$migration$;

CREATE TRIGGER org_data_keys_insert
    BEFORE INSERT ON org_data_keys
    FOR EACH ROW EXECUTE FUNCTION rekomi_org_data_key_insert();

COMMIT;
