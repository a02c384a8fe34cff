/*
Copyright 2026 The Rekomi Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
)

// TestFence breaks tenant isolation under a running server, as a superuser
// would, and proves that every tenant route is refused within the check
// interval, that the probes say so, and that serving resumes by itself once
// the drift is undone.
func TestFence(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	tests := map[string]struct {
		drift, repair string
		finding       string // in the log, never in an answer
	}{
		"RuntimeRoleBypassesRLS": {
			drift: "ALTER ROLE {runtime} BYPASSRLS", repair: "ALTER ROLE {runtime} NOBYPASSRLS", finding: "BYPASSRLS",
		},
		"RLSNotForced": {
			drift:  "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY",
			repair: "ALTER TABLE campaigns FORCE ROW LEVEL SECURITY", finding: "does not force row level security",
		},
		"RLSDisabled": {
			drift:  "ALTER TABLE commissions DISABLE ROW LEVEL SECURITY",
			repair: "ALTER TABLE commissions ENABLE ROW LEVEL SECURITY", finding: "does not have row level security enabled",
		},
		"PolicyLoosened": {
			drift:   "ALTER POLICY tenant_isolation ON commissions USING (true)",
			repair:  "ALTER POLICY tenant_isolation ON commissions USING (org_id = (SELECT rekomi_current_org()))",
			finding: `policy "tenant_isolation" on table "commissions"`,
		},
		"PolicyAdded": {
			drift:   "CREATE POLICY peek ON affiliates FOR SELECT USING (org_id = (SELECT rekomi_current_org()) OR true)",
			repair:  "DROP POLICY peek ON affiliates",
			finding: `policy "peek" on table "affiliates"`,
		},
		"TableGrantedToPublic": {
			drift: "GRANT SELECT ON customers TO PUBLIC", repair: "REVOKE SELECT ON customers FROM PUBLIC",
			finding: `table "customers" grants SELECT to PUBLIC`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv, func(c *config.Config) { c.IsolationCheckInterval = 100 * time.Millisecond })
			names := strings.NewReplacer("{runtime}", pgx.Identifier{b.region.Runtime}.Sanitize())
			require.Equal(t, http.StatusUnauthorized, b.get(t, "/v1/campaigns").StatusCode, "served before the drift")

			dbtest.Exec(t, b.region.AdminURL, names.Replace(tt.drift))
			require.Eventually(t, func() bool { return b.status(t, "/readyz") == http.StatusServiceUnavailable },
				10*time.Second, 10*time.Millisecond, "/readyz must fail within the check interval")
			b.requireFenced(t, tt.finding)

			dbtest.Exec(t, b.region.AdminURL, names.Replace(tt.repair))
			require.Eventually(t, func() bool { return b.status(t, "/readyz") == http.StatusOK },
				10*time.Second, 10*time.Millisecond, "serving resumes once the drift is repaired")
			require.Equal(t, http.StatusUnauthorized, b.get(t, "/v1/campaigns").StatusCode)
			require.Contains(t, b.logs.String(), "Tenant isolation verified again")
		})
	}
}

// status answers the status code of GET path.
func (b *bundle) status(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get(b.base + path)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// requireFenced checks every kind of route while the fence is closed.
func (b *bundle) requireFenced(t *testing.T, finding string) {
	t.Helper()
	for _, path := range []string{"/v1/campaigns", "/v1/commissions", "/r/SOMECODE", "/admin/", "/readyz", "/no-such-route"} {
		resp := b.get(t, path)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, path)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), path)
		require.Contains(t, string(body), "urn:rekomi:problem:isolation_unverified", path)
		require.NotContains(t, string(body), jsonString(finding), "what was found is logged, never answered")
		require.NotContains(t, string(body), finding)
		if path != "/readyz" {
			require.Equal(t, "1", resp.Header.Get("Retry-After"), path)
		}
	}

	resp, err := http.Post(b.base+"/webhooks/stripe/00000000-0000-0000-0000-000000000000", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a webhook is refused so that its provider retries")
	require.Empty(t, body)

	for _, path := range []string{"/healthz", "/openapi.json"} {
		require.Equal(t, http.StatusOK, b.status(t, path), path)
	}
	metrics, err := io.ReadAll(b.metrics(t).Body)
	require.NoError(t, err)
	require.Contains(t, string(metrics), "rekomi_isolation_fenced 1")
	require.Contains(t, b.logs.String(), jsonString(finding))
	require.Contains(t, b.logs.String(), `"route":"GET /v1/campaigns","path":"/v1/campaigns","status":503`,
		"a refused request is logged under its route")
}

// jsonString is s as it appears inside a JSON string.
func jsonString(s string) string {
	data, _ := json.Marshal(s)
	return strings.Trim(string(data), `"`)
}
