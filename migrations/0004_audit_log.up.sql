-- The append-only, tamper-evident audit log. Each organization's entries form
-- a hash chain: hash = SHA-256 over the entry and prev_hash, seq counts up
-- from 1 without gaps. A trigger refuses UPDATE, DELETE and TRUNCATE for
-- every role, the owner included; the runtime role is granted only INSERT
-- and SELECT on top of that. Entries survive an organization's purge.
BEGIN;

CREATE TABLE audit_log (
    org_id      uuid        NOT NULL REFERENCES organizations (id),
    seq         bigint      NOT NULL CHECK (seq >= 1),
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text        NOT NULL CHECK (actor_type IN ('api_key', 'member', 'operator', 'provider', 'system', 'admin')),
    actor_id    text        NOT NULL CHECK (length(actor_id) <= 255),
    action      text        NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)+$' AND length(action) <= 100),
    target_type text        NOT NULL CHECK (length(target_type) <= 100),
    target_id   text        NOT NULL CHECK (length(target_id) <= 255),
    ip          inet,
    user_agent  text        CHECK (length(user_agent) <= 1024),
    request_id  text        CHECK (length(request_id) <= 128),
    metadata    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object' AND pg_column_size(metadata) <= 8192),
    prev_hash   bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (org_id, seq),
    UNIQUE (org_id, id)
);
CREATE INDEX audit_log_occurred_idx ON audit_log (org_id, occurred_at);
CREATE INDEX audit_log_action_idx ON audit_log (org_id, action, occurred_at);
CREATE INDEX audit_log_target_idx ON audit_log (org_id, target_type, target_id);
CREATE INDEX audit_log_actor_idx ON audit_log (org_id, actor_type, actor_id);

CREATE FUNCTION rekomi_audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION rekomi_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION rekomi_audit_log_append_only();

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
