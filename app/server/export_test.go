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
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

type exportLine struct {
	Object         string           `json:"object"`
	OrganizationID uuid.UUID        `json:"organization_id"`
	Table          string           `json:"table"`
	Data           map[string]any   `json:"data"`
	Rows           map[string]int64 `json:"rows"`
}

// export downloads the organization's export and parses every line.
func (b *bundle) export(t *testing.T, key string) []exportLine {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+"/v1/export", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	var lines []exportLine
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l exportLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
		lines = append(lines, l)
	}
	require.NoError(t, sc.Err())
	return lines
}

// seedSecrets writes rows whose secret columns an export must leave out.
func (b *bundle) seedSecrets(t *testing.T, org uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	aff := uuid.New()
	_, err = admin.Exec(ctx, `INSERT INTO affiliates (org_id, id, email) VALUES ($1, $2, 'ann@example.com')`, org, aff)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `INSERT INTO affiliate_invites (org_id, affiliate_id, token_hash, expires_at)
		VALUES ($1, $2, sha256('invite-token'), now() + interval '7 days')`, org, aff)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `INSERT INTO webhook_endpoints (org_id, name, provider, secrets) VALUES ($1, 'stripe', 'stripe', '\xdeadbeef')`, org)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `UPDATE organizations SET stripe_secret_key_sealed = '\xdeadbeef' WHERE id = $1`, org)
	require.NoError(t, err)
}

func TestExport(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	const js = "application/json"
	for _, k := range []string{keyA, keyB} {
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", k, js, strings.NewReader(campaignBody("Launch")), nil).StatusCode)
	}
	b.seedSecrets(t, orgA)
	b.seedSecrets(t, orgB)

	t.Run("WritesEveryRowOfTheOrganizationOnly", func(t *testing.T) {
		lines := b.export(t, keyA)
		require.GreaterOrEqual(t, len(lines), 2)
		head, end := lines[0], lines[len(lines)-1]
		require.Equal(t, "export", head.Object)
		require.Equal(t, orgA, head.OrganizationID)
		require.Equal(t, "export.end", end.Object)

		counted := map[string]int64{}
		for _, l := range lines[1 : len(lines)-1] {
			require.Equal(t, "export.row", l.Object)
			counted[l.Table]++
			owner := l.Data["org_id"]
			if l.Table == "organizations" {
				owner = l.Data["id"]
			}
			require.Equal(t, orgA.String(), owner, "a row of another organization in %s", l.Table)
			for _, secret := range []string{"hash", "secrets", "token_hash", "stripe_secret_key_sealed"} {
				if l.Table != "audit_log" {
					require.NotContains(t, l.Data, secret, "%s exports its secret column", l.Table)
				}
			}
		}
		for table, n := range end.Rows {
			require.Equal(t, n, counted[table], table)
		}
		for _, table := range []string{"organizations", "api_keys", "campaigns", "affiliates", "affiliate_invites", "webhook_endpoints", "audit_log"} {
			require.Positive(t, counted[table], table)
		}
		require.EqualValues(t, 1, counted["organizations"])
		require.EqualValues(t, 1, counted["campaigns"])
	})

	t.Run("IsAuditedAndAllowedWhileCancelled", func(t *testing.T) {
		before := b.countActions(t, orgB, "organization.exported")
		b.cancelOrg(t, orgB)
		lines := b.export(t, keyB)
		require.Equal(t, "export.end", lines[len(lines)-1].Object)
		require.Equal(t, before+1, b.countActions(t, orgB, "organization.exported"))
		var exported bool
		for _, l := range lines {
			if l.Table == "audit_log" && l.Data["action"] == "organization.exported" {
				exported = true
			}
		}
		require.True(t, exported, "the export holds its own audit entry")
	})

	t.Run("NeedsAKey", func(t *testing.T) {
		require.Equal(t, http.StatusUnauthorized, b.call(t, http.MethodGet, "/v1/export", "", "", nil, nil).StatusCode)
	})
}
