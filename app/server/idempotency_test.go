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
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

type rawAnswer struct {
	status int
	header http.Header
	body   string
}

// post sends a JSON POST with an Idempotency-Key and returns the answer as
// it came.
func (b *bundle) post(t *testing.T, path, key, idemKey, body string) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(server.IdempotencyKeyHeader, idemKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *bundle) countCampaigns(t *testing.T, org uuid.UUID, name string) int {
	t.Helper()
	ctx := context.Background()
	var n int
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM campaigns WHERE name = $1`, name).Scan(&n)
	}))
	return n
}

// mustAddKey gives org a read and write key and returns its secret.
func (b *bundle) mustAddKey(t *testing.T, org uuid.UUID) string {
	t.Helper()
	key, _ := b.addKey(t, org, server.ScopeRead, server.ScopeWrite)
	return key
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)

	t.Run("ReplaysTheFirstAnswer", func(t *testing.T) {
		first := b.post(t, "/v1/campaigns", keyA, "create-spring", campaignBody("Spring"))
		require.Equal(t, http.StatusCreated, first.status)
		require.Empty(t, first.header.Get(server.IdempotentReplayedHeader))
		second := b.post(t, "/v1/campaigns", keyA, "create-spring", campaignBody("Spring"))
		require.Equal(t, first.status, second.status)
		require.Equal(t, first.body, second.body)
		require.Equal(t, "application/json", second.header.Get("Content-Type"))
		require.Equal(t, "true", second.header.Get(server.IdempotentReplayedHeader))
		require.Equal(t, 1, b.countCampaigns(t, orgA, "Spring"))
		var c campaignObject
		require.NoError(t, json.Unmarshal([]byte(first.body), &c))
		b.requireAudit(t, orgA, "campaign.created", c.ID)
	})

	t.Run("RefusesAKeyReusedForAnotherRequest", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, b.post(t, "/v1/campaigns", keyA, "create-autumn", campaignBody("Autumn")).status)
		again := b.post(t, "/v1/campaigns", keyA, "create-autumn", campaignBody("Winter"))
		require.Equal(t, http.StatusConflict, again.status)
		require.Contains(t, again.body, "urn:rekomi:problem:idempotency_key_reused")
		require.Equal(t, 0, b.countCampaigns(t, orgA, "Winter"))
		other := b.post(t, "/v1/api-keys", keyA, "create-autumn", `{"name":"ci","scopes":["read"]}`)
		require.Equal(t, http.StatusConflict, other.status, "the path is part of the request")
	})

	t.Run("RunsConcurrentDuplicatesOnce", func(t *testing.T) {
		answers := make([]rawAnswer, 10)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = b.post(t, "/v1/campaigns", keyA, "create-rush", campaignBody("Rush")) })
		}
		wg.Wait()
		replays := 0
		for _, a := range answers {
			require.Equal(t, http.StatusCreated, a.status, a.body)
			require.Equal(t, answers[0].body, a.body)
			if a.header.Get(server.IdempotentReplayedHeader) == "true" {
				replays++
			}
		}
		require.Equal(t, 9, replays)
		require.Equal(t, 1, b.countCampaigns(t, orgA, "Rush"))
	})

	t.Run("KeysArePerOrganization", func(t *testing.T) {
		a := b.post(t, "/v1/campaigns", keyA, "shared-key", campaignBody("Shared"))
		bb := b.post(t, "/v1/campaigns", keyB, "shared-key", campaignBody("Shared"))
		require.Equal(t, http.StatusCreated, a.status)
		require.Equal(t, http.StatusCreated, bb.status)
		require.Empty(t, bb.header.Get(server.IdempotentReplayedHeader))
		require.NotEqual(t, a.body, bb.body)
		require.Equal(t, 1, b.countCampaigns(t, orgA, "Shared"))
		require.Equal(t, 1, b.countCampaigns(t, orgB, "Shared"))
	})

	t.Run("KeysArePerAPIKey", func(t *testing.T) {
		other, _ := b.addKey(t, orgA, server.ScopeRead, server.ScopeWrite)
		body := `{"name":"deploy","scopes":["read","write"]}`
		first := b.post(t, "/v1/api-keys", keyA, "mint-deploy", body)
		require.Equal(t, http.StatusCreated, first.status)
		var mine, theirs struct{ Secret string }
		require.NoError(t, json.Unmarshal([]byte(first.body), &mine))
		second := b.post(t, "/v1/api-keys", other, "mint-deploy", body)
		require.Equal(t, http.StatusCreated, second.status, second.body)
		require.Empty(t, second.header.Get(server.IdempotentReplayedHeader), "another key's answer is never replayed")
		require.NotContains(t, second.body, mine.Secret)
		require.NoError(t, json.Unmarshal([]byte(second.body), &theirs))
		require.NotEqual(t, mine.Secret, theirs.Secret)
		require.Equal(t, first.body, b.post(t, "/v1/api-keys", keyA, "mint-deploy", body).body, "each key replays its own")
		require.Equal(t, second.body, b.post(t, "/v1/api-keys", other, "mint-deploy", body).body)
	})

	t.Run("CoversAPIKeysAndArchive", func(t *testing.T) {
		first := b.post(t, "/v1/api-keys", keyA, "key-ci", `{"name":"ci","scopes":["read"]}`)
		require.Equal(t, http.StatusCreated, first.status)
		second := b.post(t, "/v1/api-keys", keyA, "key-ci", `{"name":"ci","scopes":["read"]}`)
		require.Equal(t, first.body, second.body, "the secret is shown again only to the same request")
		require.Equal(t, "true", second.header.Get(server.IdempotentReplayedHeader))

		var c campaignObject
		require.NoError(t, json.Unmarshal([]byte(b.post(t, "/v1/campaigns", keyA, "c-archive", campaignBody("Archivable")).body), &c))
		path := "/v1/campaigns/" + c.ID.String() + "/archive"
		one := b.post(t, path, keyA, "archive-1", "")
		two := b.post(t, path, keyA, "archive-1", "")
		require.Equal(t, http.StatusOK, one.status)
		require.Equal(t, one.body, two.body)
		b.requireAudit(t, orgA, "campaign.archived", c.ID)
	})

	t.Run("DoesNotStoreFailures", func(t *testing.T) {
		bad := b.post(t, "/v1/campaigns", keyA, "retry-me", `{"name":"Fixed","currency":"XYZ","commission":{"type":"flat","amount":1}}`)
		require.Equal(t, http.StatusUnprocessableEntity, bad.status)
		require.Equal(t, http.StatusConflict, b.post(t, "/v1/campaigns", keyA, "retry-me", campaignBody("Spring")).status,
			"a duplicate name fails and is not stored either")
		require.Equal(t, http.StatusCreated, b.post(t, "/v1/campaigns", keyA, "retry-me", campaignBody("Fixed")).status)
	})

	t.Run("ForgetsKeysAfter24Hours", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, b.post(t, "/v1/campaigns", keyA, "old-key", campaignBody("Old")).status)
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE org_id = $1 AND key = 'old-key'`, orgA)
		require.NoError(t, err)
		again := b.post(t, "/v1/campaigns", keyA, "old-key", campaignBody("New"))
		require.Equal(t, http.StatusCreated, again.status, "an expired key names a new request")
		require.Empty(t, again.header.Get(server.IdempotentReplayedHeader))
	})

	t.Run("SealsStoredAnswers", func(t *testing.T) {
		first := b.post(t, "/v1/api-keys", keyA, "new-key", `{"name":"ci","scopes":["read"]}`)
		require.Equal(t, http.StatusCreated, first.status)
		var created struct{ Secret string }
		require.NoError(t, json.Unmarshal([]byte(first.body), &created))
		require.NotEmpty(t, created.Secret)
		again := b.post(t, "/v1/api-keys", keyA, "new-key", `{"name":"ci","scopes":["read"]}`)
		require.Equal(t, first.body, again.body, "the replay shows the secret again")

		ctx := context.Background()
		admin, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		var inClear int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys
			WHERE position(convert_to($1, 'UTF8') IN body) > 0 OR position(convert_to('"object"', 'UTF8') IN body) > 0`,
			created.Secret).Scan(&inClear))
		require.Zero(t, inClear, "a stored answer is never in the clear")

		_, err = admin.Exec(ctx, `UPDATE idempotency_keys SET org_id = $1, api_key_id = $2 WHERE key = 'new-key'`, orgB, b.keyID(t, orgB, keyB))
		require.NoError(t, err)
		moved := b.post(t, "/v1/api-keys", keyB, "new-key", `{"name":"ci","scopes":["read"]}`)
		require.Equal(t, http.StatusConflict, moved.status, "an answer moved to another organization does not open: %s", moved.body)
		require.Contains(t, moved.body, "urn:rekomi:problem:idempotency_answer_unavailable")
		require.NotContains(t, moved.body, created.Secret)
		require.NotContains(t, b.logs.String(), created.Secret)
	})

	t.Run("NeverReplaysAnAnswerStoredWithoutItsKey", func(t *testing.T) {
		body := campaignBody("Legacy")
		h := sha256.Sum256([]byte("POST\n/v1/campaigns\n" + body))
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, `INSERT INTO idempotency_keys (org_id, key, request_hash, status, content_type, body)
			VALUES ($1, 'legacy-1', $2, 201, 'application/json', '\x00')`, orgA, h[:])
		require.NoError(t, err)
		for _, key := range []string{keyA, b.mustAddKey(t, orgA)} {
			a := b.post(t, "/v1/campaigns", key, "legacy-1", body)
			require.Equal(t, http.StatusConflict, a.status, a.body)
			require.Contains(t, a.body, "urn:rekomi:problem:idempotency_answer_unavailable")
		}
		require.Zero(t, b.countCampaigns(t, orgA, "Legacy"), "the request is not run again")
	})

	t.Run("SweepsTheOrganizationsExpiredAnswers", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, b.post(t, "/v1/campaigns", keyA, "stale-1", campaignBody("Stale")).status)
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE org_id = $1 AND key = 'stale-1'`, orgA)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, b.post(t, "/v1/campaigns", keyA, "fresh-1", campaignBody("Fresh")).status)
		var left int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE org_id = $1 AND key = 'stale-1'`, orgA).Scan(&left))
		require.Zero(t, left, "a stored answer is not kept past 24 hours once the organization writes again")
	})

	t.Run("RefusesMalformedKeys", func(t *testing.T) {
		for name, k := range map[string]string{"empty": "", "too long": strings.Repeat("k", 256), "not ASCII": "clé", "control": "a\tb"} {
			a := b.post(t, "/v1/campaigns", keyA, k, campaignBody("Never"))
			require.Equal(t, http.StatusBadRequest, a.status, name)
			require.Contains(t, a.body, "urn:rekomi:problem:invalid_idempotency_key", name)
		}
		require.Equal(t, http.StatusCreated, b.post(t, "/v1/campaigns", keyA, strings.Repeat("k", 255), campaignBody("Longest")).status)
		require.Equal(t, 0, b.countCampaigns(t, orgA, "Never"))
	})
}
