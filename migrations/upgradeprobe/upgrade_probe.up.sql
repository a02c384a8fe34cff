-- The additive migration an upgrade is rehearsed with. Only a binary built
-- with the tag rekomi_upgrade_probe carries it, numbered right after the
-- newest migration. It adds what real migrations add: a tenant table,
-- isolated as the others are, and a nullable column on a table every
-- redirect reads. The previous binary neither uses nor minds either.
BEGIN;

CREATE TABLE upgrade_probes (
    org_id     uuid        NOT NULL REFERENCES organizations (id),
    id         uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
ALTER TABLE upgrade_probes ENABLE ROW LEVEL SECURITY;
ALTER TABLE upgrade_probes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON upgrade_probes
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

ALTER TABLE referral_links ADD COLUMN upgrade_probe text;

COMMIT;
