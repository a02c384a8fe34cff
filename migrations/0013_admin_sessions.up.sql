-- Admin sessions, kept server-side. The session cookie is signed, but a
-- signature alone cannot be taken back: a stolen cookie would outlive its
-- sign-out. Every admin request reads its session's row (and its API key)
-- in the database every replica shares, so signing out, which deletes the
-- row, or revoking the key ends the session everywhere at once. Rows past
-- expires_at are refused and swept at the organization's next sign-in.
BEGIN;

CREATE TABLE admin_sessions (
    org_id     uuid        NOT NULL REFERENCES organizations (id),
    id         uuid        NOT NULL,
    api_key_id uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, api_key_id) REFERENCES api_keys (org_id, id)
);
-- Serves the sweep of expired sessions.
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (org_id, expires_at);

ALTER TABLE admin_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE admin_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admin_sessions
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));

COMMIT;
