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
	"context"
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

// countActions counts the organization's entries with action.
func (b *bundle) countActions(t *testing.T, org uuid.UUID, action string) int {
	t.Helper()
	ctx := context.Background()
	var n int
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = $1`, action).Scan(&n)
	}))
	return n
}

func TestCopilotActions(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 16 << 10 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	_, readOnly := b.seedOrg(t, "globex", server.ScopeRead)
	const js = "application/json"
	const good = `{"action":"draft_email","target":{"type":"affiliate","id":"aff_42"},"summary":"Drafted a welcome email",` +
		`"model":"assistant-1","metadata":{"tokens":812,"approved_by":"jo@example.com"}}`

	t.Run("RecordsTheActionInTheAuditLog", func(t *testing.T) {
		var entry struct {
			Object   string `json:"object"`
			Seq      int64  `json:"seq"`
			Action   string `json:"action"`
			Actor    struct{ Type, ID string }
			Target   struct{ Type, ID string }
			Metadata map[string]any `json:"metadata"`
		}
		resp := b.call(t, http.MethodPost, "/v1/copilot/actions", keyA, js, strings.NewReader(good), &entry)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Equal(t, "audit_entry", entry.Object)
		require.Equal(t, "copilot.draft_email", entry.Action)
		require.Equal(t, "api_key", entry.Actor.Type)
		require.Equal(t, "affiliate", entry.Target.Type)
		require.Equal(t, "aff_42", entry.Target.ID)
		require.Equal(t, "Drafted a welcome email", entry.Metadata["summary"])
		require.Equal(t, "assistant-1", entry.Metadata["model"])
		require.Equal(t, map[string]any{"tokens": float64(812), "approved_by": "jo@example.com"}, entry.Metadata["details"])
		require.Equal(t, 1, b.countActions(t, orgA, "copilot.draft_email"))
	})

	t.Run("ReplaysWithTheSameIdempotencyKey", func(t *testing.T) {
		body := strings.Replace(good, "draft_email", "suggest_payout", 1)
		first := b.post(t, "/v1/copilot/actions", keyA, "copilot-1", body)
		again := b.post(t, "/v1/copilot/actions", keyA, "copilot-1", body)
		require.Equal(t, http.StatusCreated, first.status)
		require.Equal(t, first.body, again.body)
		require.Equal(t, "true", again.header.Get(server.IdempotentReplayedHeader))
		require.Equal(t, 1, b.countActions(t, orgA, "copilot.suggest_payout"), "a replay records nothing")
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		big := `{"action":"x","target":{"type":"a","id":"b"},"summary":"s","metadata":{"blob":"` + strings.Repeat("a", 5000) + `"}}`
		cases := map[string]struct {
			body   string
			status int
			field  string
		}{
			"missing action":         {`{"target":{"type":"a","id":"b"},"summary":"s"}`, 422, "action"},
			"action with a dot":      {`{"action":"a.b","target":{"type":"a","id":"b"},"summary":"s"}`, 422, "action"},
			"missing target":         {`{"action":"a","summary":"s"}`, 422, "target"},
			"empty target id":        {`{"action":"a","target":{"type":"a","id":""},"summary":"s"}`, 422, "target.id"},
			"upper-case target type": {`{"action":"a","target":{"type":"Link","id":"b"},"summary":"s"}`, 422, "target.type"},
			"missing summary":        {`{"action":"a","target":{"type":"a","id":"b"}}`, 422, "summary"},
			"metadata not an object": {`{"action":"a","target":{"type":"a","id":"b"},"summary":"s","metadata":[1]}`, 422, "metadata"},
			"metadata too large":     {big, 422, "metadata"},
			"unknown field":          {`{"action":"a","target":{"type":"a","id":"b"},"summary":"s","actor":"admin"}`, 400, ""},
			"unknown target field":   {`{"action":"a","target":{"type":"a","id":"b","org":"x"},"summary":"s"}`, 400, ""},
			"wrong type":             {`{"action":7,"target":{"type":"a","id":"b"},"summary":"s"}`, 400, ""},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/copilot/actions", keyA, js, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
	})

	t.Run("NeedsTheWriteScopeAndAnActiveOrganization", func(t *testing.T) {
		resp := b.call(t, http.MethodPost, "/v1/copilot/actions", readOnly, js, strings.NewReader(good), nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)

		orgC, keyC := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		b.cancelOrg(t, orgC)
		var p server.Problem
		resp = b.call(t, http.MethodPost, "/v1/copilot/actions", keyC, js, strings.NewReader(good), &p)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		require.Zero(t, b.countActions(t, orgC, "copilot.draft_email"))
	})
}
