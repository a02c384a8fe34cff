-- The append-only, tamper-evident audit log. Each organization's entries form
-- a hash chain: hash = SHA-256 over prev_hash and the entry, seq counts up
-- from 1 without gaps. The database computes the chain on INSERT, whatever
-- the client sent for seq, prev_hash and hash, so no caller can get it wrong.
-- A trigger refuses UPDATE, DELETE and TRUNCATE for every role, the owner
-- included; the runtime role is granted only INSERT and SELECT on top of
-- that. Entries survive an organization's purge.
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

-- The hash of entry e chained to prev: SHA-256 over prev followed by the
-- UTF-8 text of a JSON array of e's columns in a fixed order. The text
-- depends on no session setting: occurred_at is integer microseconds since
-- the Unix epoch (not a formatted timestamp, which TimeZone and DateStyle
-- change), ip is its full text with the mask, and jsonb prints its keys in
-- one order. The INSERT trigger and the verification both call this one
-- function, so they cannot drift apart. Changing it invalidates every
-- stored chain.
CREATE FUNCTION rekomi_audit_entry_hash(prev bytea, e audit_log) RETURNS bytea
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

-- Links each new entry to its organization's chain. The transaction-scoped
-- advisory lock on the organization serializes concurrent appends until
-- commit, so the next one reads this entry as the previous. The two-key
-- form keeps these locks apart from bigint-keyed ones (golang-migrate's);
-- a hash collision between two organizations only serializes them. It runs
-- as the invoker, under row-level security: the inserter must have set the
-- tenant, and a row for another organization finds no chain and is then
-- refused by the policy's WITH CHECK. Under REPEATABLE READ or SERIALIZABLE
-- the snapshot may predate a concurrent append; the primary key on
-- (org_id, seq) then fails the insert instead of letting the chain fork.
CREATE FUNCTION rekomi_audit_log_chain() RETURNS trigger
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

-- The only BEFORE INSERT trigger: another one firing after it could change
-- the row after its hash was computed.
CREATE TRIGGER audit_log_chain
    BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION rekomi_audit_log_chain();

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
