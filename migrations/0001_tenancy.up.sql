-- The tenancy core: the tenant function every policy goes through,
-- organizations, the routing table for lookups made before the tenant is
-- known, and the per-organization tables for people, keys and endpoints.
-- Every tenant table has org_id, forced row-level security and one policy
-- that both filters (USING) and checks new rows (WITH CHECK).
BEGIN;

-- The tenant of the current transaction, set only with
-- set_config('rekomi.org_id', $1, true). NULLIF turns the '' that a pooled
-- connection keeps after a transaction into NULL: no tenant, no rows.
CREATE FUNCTION rekomi_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('rekomi.org_id', true), '')::uuid $$;

CREATE TABLE organizations (
    id           uuid        PRIMARY KEY,
    name         text        NOT NULL CHECK (name ~ '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' AND length(name) <= 253),
    display_name text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    plan         text        NOT NULL CHECK (plan IN ('trial', 'starter', 'pro', 'enterprise')),
    status       text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled', 'purged')),
    cancelled_at timestamptz,
    purge_at     timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'active') = (cancelled_at IS NULL))
);
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = (SELECT rekomi_current_org()))
    WITH CHECK (id = (SELECT rekomi_current_org()));

-- Opaque public keys (referral codes, webhook endpoint ids, API key
-- prefixes) mapped to their organization. Anyone may resolve a key; only
-- the owning tenant may add or remove one. Keys are random, so their global
-- uniqueness reveals nothing about another tenant's data.
CREATE TABLE route_keys (
    kind       text        NOT NULL CHECK (kind IN ('link_code', 'webhook_endpoint', 'api_key_prefix')),
    key        text        NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
    org_id     uuid        NOT NULL REFERENCES organizations (id),
    target_id  uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
CREATE INDEX route_keys_org_id_idx ON route_keys (org_id, kind);
ALTER TABLE route_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE route_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY public_lookup ON route_keys FOR SELECT USING (true);
CREATE POLICY tenant_insert ON route_keys FOR INSERT
    WITH CHECK (org_id = (SELECT rekomi_current_org()));
CREATE POLICY tenant_update ON route_keys FOR UPDATE
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));
CREATE POLICY tenant_delete ON route_keys FOR DELETE
    USING (org_id = (SELECT rekomi_current_org()));

CREATE TABLE members (
    org_id           uuid        NOT NULL REFERENCES organizations (id),
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    external_user_id text        NOT NULL CHECK (length(external_user_id) BETWEEN 1 AND 255),
    email            text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role             text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, external_user_id),
    UNIQUE (org_id, email)
);

CREATE TABLE api_keys (
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    prefix       text        NOT NULL CHECK (length(prefix) BETWEEN 8 AND 64),
    hash         bytea       NOT NULL CHECK (length(hash) = 32),
    scopes       text[]      NOT NULL CHECK (scopes <@ ARRAY['read', 'write']::text[] AND cardinality(scopes) > 0),
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, prefix)
);

-- Provider endpoints, written by the operator. Signing secrets are stored
-- encrypted with the Region's key ring (AES-256-GCM, key id in the blob).
CREATE TABLE webhook_endpoints (
    org_id            uuid        NOT NULL REFERENCES organizations (id),
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 317),
    provider          text        NOT NULL CHECK (provider IN ('stripe', 'clerk')),
    secrets           bytea       NOT NULL,
    tolerance_seconds integer     NOT NULL DEFAULT 300 CHECK (tolerance_seconds BETWEEN 60 AND 600),
    disabled          boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, name)
);

ALTER TABLE members ENABLE ROW LEVEL SECURITY;
ALTER TABLE members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON members
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
