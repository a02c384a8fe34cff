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

type campaignObject struct {
	Object     string    `json:"object"`
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	Currency   string    `json:"currency"`
	Commission struct {
		Type       string `json:"type"`
		PercentBps *int   `json:"percent_bps"`
		Amount     *int64 `json:"amount"`
	} `json:"commission"`
	Recurrence struct {
		Type   string `json:"type"`
		Months *int   `json:"months"`
	} `json:"recurrence"`
	Attribution struct {
		WindowDays int    `json:"window_days"`
		Model      string `json:"model"`
	} `json:"attribution"`
	HoldDays        int     `json:"hold_days"`
	MinPayoutAmount int64   `json:"min_payout_amount"`
	ArchivedAt      *string `json:"archived_at"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
}

type campaignList struct {
	Data    []campaignObject `json:"data"`
	HasMore bool             `json:"has_more"`
}

const js = "application/json"

func campaignBody(name string) string {
	return `{"name":"` + name + `","currency":"EUR","commission":{"type":"percentage","percent_bps":2000}}`
}

// cancelOrg marks the organization cancelled, as the operator does.
func (b *bundle) cancelOrg(t *testing.T, org uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, `UPDATE organizations SET status = 'cancelled', cancelled_at = now() WHERE id = $1`, org)
	require.NoError(t, err)
}

func TestCampaigns(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	_, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)

	t.Run("CreatesGetsListsUpdatesAndArchives", func(t *testing.T) {
		var created campaignObject
		resp := b.call(t, http.MethodPost, "/v1/campaigns", keyA, js, strings.NewReader(
			`{"name":"Launch","currency":"USD","commission":{"type":"flat","amount":500},"recurrence":{"type":"recurring","months":12}}`), &created)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Equal(t, "campaign", created.Object)
		require.Equal(t, "flat", created.Commission.Type)
		require.EqualValues(t, 500, *created.Commission.Amount)
		require.Nil(t, created.Commission.PercentBps)
		require.Equal(t, 12, *created.Recurrence.Months)
		require.Equal(t, 60, created.Attribution.WindowDays, "defaults apply")
		require.Equal(t, "last_click", created.Attribution.Model)
		require.Equal(t, 30, created.HoldDays)
		require.Nil(t, created.ArchivedAt)

		var got campaignObject
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/campaigns/"+created.ID.String(), keyA, "", nil, &got).StatusCode)
		require.Equal(t, created, got)

		var patched campaignObject
		resp = b.call(t, http.MethodPatch, "/v1/campaigns/"+created.ID.String(), keyA, js,
			strings.NewReader(`{"hold_days":0,"attribution":{"model":"first_click"}}`), &patched)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, 0, patched.HoldDays, "a zero is a value, not an absence")
		require.Equal(t, "first_click", patched.Attribution.Model)
		require.Equal(t, 60, patched.Attribution.WindowDays, "absent fields keep their value")
		require.Equal(t, "Launch", patched.Name)
		require.EqualValues(t, 500, *patched.Commission.Amount)

		var archived campaignObject
		resp = b.call(t, http.MethodPost, "/v1/campaigns/"+created.ID.String()+"/archive", keyA, "", nil, &archived)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotNil(t, archived.ArchivedAt)

		var active, all campaignList
		b.call(t, http.MethodGet, "/v1/campaigns?limit=100", keyA, "", nil, &active)
		b.call(t, http.MethodGet, "/v1/campaigns?limit=100&include_archived=true", keyA, "", nil, &all)
		require.NotContains(t, ids(active), created.ID, "archived campaigns are left out")
		require.Contains(t, ids(all), created.ID)

		b.requireAudit(t, orgA, "campaign.created", created.ID)
		b.requireAudit(t, orgA, "campaign.updated", created.ID)
		b.requireAudit(t, orgA, "campaign.archived", created.ID)
		b.requireAuditMetadata(t, orgA, "campaign.updated", created.ID, `{"changed": ["attribution", "hold_days"]}`)
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		cases := map[string]struct {
			contentType, body string
			status            int
			problem, field    string
		}{
			"unknown field":            {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1},"admin":true}`, 400, "invalid_json", ""},
			"wrong type":               {js, `{"name":7,"currency":"EUR","commission":{"type":"flat","amount":1}}`, 400, "invalid_json", ""},
			"fractional money":         {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1.5}}`, 400, "invalid_json", ""},
			"bad UTF-8":                {js, "{\"name\":\"\xff\",\"currency\":\"EUR\",\"commission\":{\"type\":\"flat\",\"amount\":1}}", 400, "invalid_json", ""},
			"not JSON":                 {"text/plain", `name=a`, 415, "unsupported_media_type", ""},
			"oversize body":            {js, `{"name":"` + strings.Repeat("a", 2000) + `"}`, 413, "body_too_large", ""},
			"negative money":           {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1},"min_payout_amount":-1}`, 422, "validation_failed", "min_payout_amount"},
			"negative flat amount":     {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":-5}}`, 422, "validation_failed", "commission.amount"},
			"unknown currency":         {js, `{"name":"a","currency":"XYZ","commission":{"type":"flat","amount":1}}`, 422, "validation_failed", "currency"},
			"lower-case currency":      {js, `{"name":"a","currency":"eur","commission":{"type":"flat","amount":1}}`, 422, "validation_failed", "currency"},
			"percent too high":         {js, `{"name":"a","currency":"EUR","commission":{"type":"percentage","percent_bps":10001}}`, 422, "validation_failed", "commission.percent_bps"},
			"percent zero":             {js, `{"name":"a","currency":"EUR","commission":{"type":"percentage","percent_bps":0}}`, 422, "validation_failed", "commission.percent_bps"},
			"months without recurring": {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1},"recurrence":{"type":"lifetime","months":3}}`, 422, "validation_failed", "recurrence.months"},
			"recurring without months": {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1},"recurrence":{"type":"recurring"}}`, 422, "validation_failed", "recurrence.months"},
			"window too long":          {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1},"attribution":{"window_days":366}}`, 422, "validation_failed", "attribution.window_days"},
			"hold too long":            {js, `{"name":"a","currency":"EUR","commission":{"type":"flat","amount":1},"hold_days":366}`, 422, "validation_failed", "hold_days"},
			"missing commission":       {js, `{"name":"a","currency":"EUR"}`, 422, "validation_failed", "commission"},
			"name too long":            {js, `{"name":"` + strings.Repeat("é", 201) + `","currency":"EUR","commission":{"type":"flat","amount":1}}`, 422, "validation_failed", "name"},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/campaigns", keyA, tc.contentType, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		var c campaignObject
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", keyA, js, strings.NewReader(campaignBody("patchable")), &c).StatusCode)
		var p server.Problem
		resp := b.call(t, http.MethodPatch, "/v1/campaigns/"+c.ID.String(), keyA, js, strings.NewReader(`{"recurrence":{"type":"one_time","months":2}}`), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "recurrence.months", p.Errors[0].Field)
		resp = b.call(t, http.MethodPatch, "/v1/campaigns/"+c.ID.String(), keyA, js, strings.NewReader(`{"commission":{"type":"flat","amount":-1}}`), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	})

	t.Run("RefusesADuplicateName", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", keyA, js, strings.NewReader(campaignBody("Summer")), nil).StatusCode)
		var p server.Problem
		resp := b.call(t, http.MethodPost, "/v1/campaigns", keyA, js, strings.NewReader(campaignBody("Summer")), &p)
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		require.Equal(t, "urn:rekomi:problem:conflict", p.Type)
		require.NotContains(t, p.Title+p.Detail, "Summer")
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", keyB, js, strings.NewReader(campaignBody("Summer")), nil).StatusCode,
			"names are unique per organization")
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		var c campaignObject
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", keyA, js, strings.NewReader(campaignBody("Private")), &c).StatusCode)
		path := "/v1/campaigns/" + c.ID.String()
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodGet, path, keyB, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodPatch, path, keyB, js, strings.NewReader(`{"name":"mine"}`), nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodPost, path+"/archive", keyB, "", nil, nil).StatusCode)
		var list campaignList
		b.call(t, http.MethodGet, "/v1/campaigns?limit=100&include_archived=true", keyB, "", nil, &list)
		require.NotContains(t, ids(list), c.ID)
		var got campaignObject
		b.call(t, http.MethodGet, path, keyA, "", nil, &got)
		require.Equal(t, "Private", got.Name, "untouched")
		require.Nil(t, got.ArchivedAt)
	})

	t.Run("PaginatesNewestFirst", func(t *testing.T) {
		_, key := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		for _, n := range []string{"one", "two", "three"} {
			require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", key, js, strings.NewReader(campaignBody(n)), nil).StatusCode)
		}
		var first, second campaignList
		b.call(t, http.MethodGet, "/v1/campaigns?limit=2", key, "", nil, &first)
		require.True(t, first.HasMore)
		require.Equal(t, "three", first.Data[0].Name)
		b.call(t, http.MethodGet, "/v1/campaigns?limit=2&starting_after="+first.Data[1].ID.String(), key, "", nil, &second)
		require.False(t, second.HasMore)
		require.Len(t, second.Data, 1)
		require.Equal(t, "one", second.Data[0].Name)
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/campaigns?include_archived=maybe", key, "", nil, nil).StatusCode)
	})

	t.Run("CancelledOrganizationReadsButCannotWrite", func(t *testing.T) {
		org, key := b.seedOrg(t, "hooli", server.ScopeRead, server.ScopeWrite)
		var c campaignObject
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", key, js, strings.NewReader(campaignBody("Before")), &c).StatusCode)
		b.cancelOrg(t, org)
		path := "/v1/campaigns/" + c.ID.String()
		for _, req := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/campaigns", campaignBody("After")},
			{http.MethodPatch, path, `{"name":"Renamed"}`},
			{http.MethodPost, path + "/archive", ""},
			{http.MethodPost, "/v1/api-keys", `{"name":"x","scopes":["read"]}`},
		} {
			var p server.Problem
			resp := b.call(t, req.method, req.path, key, js, strings.NewReader(req.body), &p)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, req.path)
			require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		}
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, path, key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/campaigns", key, "", nil, nil).StatusCode)
	})
}

func ids(l campaignList) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(l.Data))
	for _, c := range l.Data {
		out = append(out, c.ID)
	}
	return out
}

// requireAuditMetadata checks the metadata of the one entry of action on
// target.
func (b *bundle) requireAuditMetadata(t *testing.T, org uuid.UUID, action string, target uuid.UUID, want string) {
	t.Helper()
	ctx := context.Background()
	var got string
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT metadata::text FROM audit_log WHERE action = $1 AND target_id = $2`, action, target.String()).Scan(&got)
	}))
	// Asserted outside the transaction: a failure inside it would stop the
	// goroutine with the connection still taken.
	require.JSONEq(t, want, got)
}
