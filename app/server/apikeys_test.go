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
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server"
)

// seedOrg writes an organization and one API key with the given scopes as
// the admin, as the operator does, and returns the org id and the key.
func (b *bundle) seedOrg(t testing.TB, name string, scopes ...string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	org := b.seed.Org(t, name).ID
	return org, b.seedKey(t, admin, org, scopes...)
}

func (b *bundle) seedKey(t testing.TB, admin *pgx.Conn, org uuid.UUID, scopes ...string) string {
	t.Helper()
	ctx := context.Background()
	key, prefix, err := apikey.Generate(rand.Reader)
	require.NoError(t, err)
	hash := apikey.Hash(key)
	id := uuid.New()
	_, err = admin.Exec(ctx, `INSERT INTO api_keys (org_id, id, name, prefix, hash, scopes, created_by) VALUES ($1, $2, 'seed', $3, $4, $5, 'operator')`,
		org, id, prefix, hash[:], scopes)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('api_key_prefix', $1, $2, $3)`, prefix, org, id)
	require.NoError(t, err)
	return key
}

// call sends a request with a bearer key and decodes the JSON answer into out.
func (b *bundle) call(t *testing.T, method, path, key, contentType string, body io.Reader, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp
}

type keyObject struct {
	ID        uuid.UUID `json:"id"`
	Object    string    `json:"object"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	Secret    string    `json:"secret"`
	RevokedAt *string   `json:"revoked_at"`
}

type keyList struct {
	Data    []keyObject `json:"data"`
	HasMore bool        `json:"has_more"`
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	_, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	const js = "application/json"

	t.Run("RefusesEveryBadKeyTheSameWay", func(t *testing.T) {
		wrongSecret := keyA[:len(keyA)-4] + "aaaa"
		if wrongSecret == keyA {
			wrongSecret = keyA[:len(keyA)-4] + "bbbb"
		}
		unknown, _, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		var first server.Problem
		for i, key := range []string{"", "not-a-key", unknown, wrongSecret} {
			var p server.Problem
			resp := b.call(t, http.MethodGet, "/v1/api-keys", key, "", nil, &p)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "key %d", i)
			require.Equal(t, `Bearer realm="rekomi"`, resp.Header.Get("WWW-Authenticate"))
			p.RequestID = ""
			if i == 0 {
				first = p
			}
			require.Equal(t, first, p, "the answer never says why a key was refused")
		}
	})

	t.Run("CreatesListsAndRevokes", func(t *testing.T) {
		var created keyObject
		resp := b.call(t, http.MethodPost, "/v1/api-keys", keyA, js, strings.NewReader(`{"name":"ci","scopes":["read"]}`), &created)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Equal(t, "api_key", created.Object)
		require.True(t, strings.HasPrefix(created.Secret, apikey.Scheme))

		var listed keyList
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/api-keys", created.Secret, "", nil, &listed).StatusCode,
			"the new key authenticates")
		require.NotEmpty(t, listed.Data)
		for _, k := range listed.Data {
			require.Empty(t, k.Secret, "a listed key never shows its secret")
		}

		var p server.Problem
		resp = b.call(t, http.MethodPost, "/v1/api-keys", created.Secret, js, strings.NewReader(`{"name":"x","scopes":["read"]}`), &p)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "a read key cannot write")
		require.Equal(t, "urn:rekomi:problem:insufficient_scope", p.Type)

		var revoked keyObject
		resp = b.call(t, http.MethodDelete, "/v1/api-keys/"+created.ID.String(), keyA, "", nil, &revoked)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotNil(t, revoked.RevokedAt)
		require.Equal(t, http.StatusUnauthorized, b.call(t, http.MethodGet, "/v1/api-keys", created.Secret, "", nil, nil).StatusCode)

		var again keyObject
		resp = b.call(t, http.MethodDelete, "/v1/api-keys/"+created.ID.String(), keyA, "", nil, &again)
		require.Equal(t, http.StatusOK, resp.StatusCode, "revoking twice answers as once")
		require.Equal(t, revoked.RevokedAt, again.RevokedAt, "the first revocation's time stays")

		b.requireAudit(t, orgA, "api_key.created", created.ID)
		b.requireAudit(t, orgA, "api_key.revoked", created.ID)
	})

	t.Run("GrantsOnlyScopesTheCreatingKeyHolds", func(t *testing.T) {
		writeOnly, _ := b.addKey(t, orgA, server.ScopeWrite)
		for _, scopes := range []string{`["read"]`, `["read","write"]`, `["write","read"]`} {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/api-keys", writeOnly, js, strings.NewReader(`{"name":"escalate","scopes":`+scopes+`}`), &p)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, scopes)
			require.Equal(t, "urn:rekomi:problem:insufficient_scope", p.Type, scopes)
			require.Contains(t, p.Detail, "read", scopes)
		}
		require.Zero(t, b.countKeysNamed(t, orgA, "escalate"), "no key was made")
		var created keyObject
		resp := b.call(t, http.MethodPost, "/v1/api-keys", writeOnly, js, strings.NewReader(`{"name":"peer","scopes":["write"]}`), &created)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "a scope it holds")
		require.Equal(t, []string{"write"}, created.Scopes)
		require.Equal(t, http.StatusForbidden, b.call(t, http.MethodGet, "/v1/api-keys", created.Secret, "", nil, nil).StatusCode)
	})

	t.Run("RevokesOnlyKeysWhoseScopesItHolds", func(t *testing.T) {
		writeOnly, _ := b.addKey(t, orgA, server.ScopeWrite)
		_, strongID := b.addKey(t, orgA, server.ScopeRead, server.ScopeWrite)
		_, peerID := b.addKey(t, orgA, server.ScopeWrite)
		var p server.Problem
		resp := b.call(t, http.MethodDelete, "/v1/api-keys/"+strongID.String(), writeOnly, "", nil, &p)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "a write-only key cannot revoke a read and write key")
		require.Equal(t, "urn:rekomi:problem:insufficient_scope", p.Type)
		require.Contains(t, p.Detail, "read")
		var got keyObject
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/api-keys/"+strongID.String(), keyA, "", nil, &got).StatusCode)
		require.Nil(t, got.RevokedAt, "the stronger key still works")

		require.Equal(t, http.StatusOK, b.call(t, http.MethodDelete, "/v1/api-keys/"+peerID.String(), writeOnly, "", nil, &got).StatusCode,
			"a key it could have made")
		require.NotNil(t, got.RevokedAt)
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		cases := map[string]struct {
			contentType, body string
			status            int
			problem           string
		}{
			"unknown field": {js, `{"name":"a","scopes":["read"],"admin":true}`, 400, "invalid_json"},
			"wrong type":    {js, `{"name":7,"scopes":["read"]}`, 400, "invalid_json"},
			"bad UTF-8":     {js, "{\"name\":\"\xff\",\"scopes\":[\"read\"]}", 400, "invalid_json"},
			"trailing data": {js, `{"name":"a","scopes":["read"]} {}`, 400, "invalid_json"},
			"empty body":    {js, ``, 400, "invalid_json"},
			"not JSON":      {"text/plain", `name=a`, 415, "unsupported_media_type"},
			"oversize body": {js, `{"name":"` + strings.Repeat("a", 2000) + `","scopes":["read"]}`, 413, "body_too_large"},
			"empty name":    {js, `{"name":"","scopes":["read"]}`, 422, "validation_failed"},
			"unknown scope": {js, `{"name":"a","scopes":["admin"]}`, 422, "validation_failed"},
			"no scope":      {js, `{"name":"a","scopes":[]}`, 422, "validation_failed"},
			"NUL in name":   {js, `{"name":"a\u0000b","scopes":["read"]}`, 422, "validation_failed"},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/api-keys", keyA, tc.contentType, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), name)
		}
		var p server.Problem
		b.call(t, http.MethodPost, "/v1/api-keys", keyA, js, strings.NewReader(`{"name":"","scopes":["root"]}`), &p)
		require.Equal(t, []ledger.FieldError{
			{Field: "name", Detail: "must be 1 to 200 characters"},
			{Field: "scopes[0]", Detail: "must be read or write"},
		}, p.Errors)
	})

	t.Run("PaginatesWithACursor", func(t *testing.T) {
		for i := range 3 {
			resp := b.call(t, http.MethodPost, "/v1/api-keys", keyB, js, strings.NewReader(`{"name":"k`+string(rune('0'+i))+`","scopes":["read"]}`), nil)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
		}
		var all keyList
		b.call(t, http.MethodGet, "/v1/api-keys?limit=100", keyB, "", nil, &all)
		require.Len(t, all.Data, 4)
		var first, second keyList
		b.call(t, http.MethodGet, "/v1/api-keys?limit=2", keyB, "", nil, &first)
		require.True(t, first.HasMore)
		b.call(t, http.MethodGet, "/v1/api-keys?limit=2&starting_after="+first.Data[1].ID.String(), keyB, "", nil, &second)
		require.False(t, second.HasMore)
		require.Equal(t, all.Data, append(first.Data, second.Data...))
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/api-keys?limit=0", keyB, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/api-keys?starting_after=x", keyB, "", nil, nil).StatusCode)
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		var listA keyList
		b.call(t, http.MethodGet, "/v1/api-keys?limit=100", keyA, "", nil, &listA)
		var listB keyList
		b.call(t, http.MethodGet, "/v1/api-keys?limit=100", keyB, "", nil, &listB)
		for _, a := range listA.Data {
			for _, k := range listB.Data {
				require.NotEqual(t, a.ID, k.ID)
			}
			require.Equal(t, http.StatusNotFound, b.call(t, http.MethodGet, "/v1/api-keys/"+a.ID.String(), keyB, "", nil, nil).StatusCode)
			require.Equal(t, http.StatusNotFound, b.call(t, http.MethodDelete, "/v1/api-keys/"+a.ID.String(), keyB, "", nil, nil).StatusCode)
		}
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/api-keys", keyA, "", nil, nil).StatusCode, "org A's keys still work")
	})
}

// countKeysNamed counts org's API keys called name.
func (b *bundle) countKeysNamed(t *testing.T, org uuid.UUID, name string) int {
	t.Helper()
	ctx := context.Background()
	var n int
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE org_id = $1 AND name = $2`, org, name).Scan(&n)
	}))
	return n
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	clock := newTestClock()
	b := setupWith(t, srv, []server.Option{server.WithClock(clock.Now)}, func(c *config.Config) { c.RateLimit, c.RateBurst = 0.5, 2 })
	_, key := b.seedOrg(t, "acme", server.ScopeRead)
	_, other := b.seedOrg(t, "globex", server.ScopeRead)
	for range 2 {
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/api-keys", key, "", nil, nil).StatusCode)
	}
	var p server.Problem
	resp := b.call(t, http.MethodGet, "/v1/api-keys", key, "", nil, &p)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "urn:rekomi:problem:rate_limited", p.Type)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/api-keys", other, "", nil, nil).StatusCode, "limits are per key")
	clock.Advance(2 * time.Second)
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/api-keys", key, "", nil, nil).StatusCode, "allowed once the wait is over")
}

// requireAudit checks one entry records action on target, and that the
// organization's chain verifies.
func (b *bundle) requireAudit(t *testing.T, org uuid.UUID, action string, target uuid.UUID) {
	t.Helper()
	tenant := b.org(org)
	require.Equal(t, 1, tenant.Audits(t, action, target), "%s of %s audited once", action, target)
	tenant.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		v, err := audit.Verify(ctx, tx, org)
		require.NoError(t, err)
		require.True(t, v.OK(), "%+v", v)
		return nil
	})
}
