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
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// tenantObjects creates one object of every resource through the API as the
// key's organization and returns their ids by route prefix.
func (b *bundle) tenantObjects(t *testing.T, key string) map[string]string {
	t.Helper()
	const js = "application/json"
	create := func(path, body string, wantStatus int) map[string]any {
		t.Helper()
		var out map[string]any
		resp := b.call(t, http.MethodPost, path, key, js, strings.NewReader(body), &out)
		require.Equal(t, wantStatus, resp.StatusCode, "%s: %v", path, out)
		return out
	}
	id := func(obj map[string]any) string { return obj["id"].(string) }
	ids := map[string]string{}
	ids["/v1/api-keys/"] = id(create("/v1/api-keys", `{"name":"other","scopes":["read"]}`, http.StatusCreated))
	ids["/v1/campaigns/"] = id(create("/v1/campaigns", `{"name":"Other","currency":"EUR","commission":{"type":"percentage","percent_bps":1000},"hold_days":0}`, http.StatusCreated))
	aff := create("/v1/affiliates", `{"email":"partner@example.com"}`, http.StatusCreated)
	ids["/v1/affiliates/"] = id(aff)
	token := aff["invite"].(map[string]any)["token"].(string)
	create("/v1/affiliates/accept", `{"token":"`+token+`"}`, http.StatusOK)
	create("/v1/affiliates/"+id(aff)+"/approve", ``, http.StatusOK)
	link := create("/v1/links", `{"affiliate_id":"`+id(aff)+`","campaign_id":"`+ids["/v1/campaigns/"]+`","destination_url":"https://shop.example.com/"}`, http.StatusCreated)
	ids["/v1/links/"] = id(link)
	// Every organization has a promo code SPRING: the same code, never the
	// same object.
	ids["/v1/promo-codes/"] = id(create("/v1/promo-codes", `{"code":"SPRING","affiliate_id":"`+id(aff)+`","campaign_id":"`+ids["/v1/campaigns/"]+`"}`, http.StatusCreated))
	sale := create("/v1/track/sale", `{"customer":{"external_id":"cus_1","email":"buyer@example.com"},"external_id":"inv_1",`+
		`"amount":10000,"currency":"EUR","referral_code":"`+link["code"].(string)+`"}`, http.StatusCreated)
	ids["/v1/conversions/"] = id(sale)
	ids["/v1/customers/"] = id(sale["customer"].(map[string]any))
	require.NotNil(t, sale["commission"], "the sale earned a commission: %v", sale)
	ids["/v1/commissions/"] = id(sale["commission"].(map[string]any))
	ids["/v1/payouts/"] = id(create("/v1/payouts", `{"affiliate_id":"`+id(aff)+`","currency":"EUR","provider":"manual"}`, http.StatusCreated))
	return ids
}

// crossTenantBodies are valid bodies for the {id} routes that need one, so
// that the answer is about the object, not the input.
var crossTenantBodies = map[string]string{
	"POST /v1/affiliates/{id}/suspend":  `{"reason":"fraud"}`,
	"POST /v1/commissions/{id}/reverse": `{"reason":"refund"}`,
	"PATCH /v1/campaigns/{id}":          `{"name":"Taken over"}`,
	"PATCH /v1/affiliates/{id}":         `{"name":"Taken over"}`,
	"PATCH /v1/links/{id}":              `{"destination_url":"https://evil.example.com/"}`,
	"PATCH /v1/promo-codes/{id}":        `{"campaign_id":"0b0c3c58-3f4f-4a51-9d2b-6a1f3e0c7d21"}`,
	"POST /v1/payouts/{id}/dispatch":    ``,
	"POST /v1/campaigns/{id}/archive":   ``,
	"POST /v1/links/{id}/disable":       ``,
	"POST /v1/promo-codes/{id}/disable": ``,
	"POST /v1/affiliates/{id}/approve":  ``,
	"POST /v1/affiliates/{id}/invite":   ``,
	"DELETE /v1/api-keys/{id}":          ``,
	"GET /v1/api-keys/{id}":             ``,
}

// TestCrossTenantAccess walks every route of the server: with organization
// A's key, each route naming an object of organization B answers 404 and
// changes nothing, and no list or export of A's ever holds one of B's ids.
// A new route fails this test until it is covered here.
func TestCrossTenantAccess(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 4096; c.RateLimit, c.RateBurst = 1000, 1000 })
	_, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	_, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	idsA := b.tenantObjects(t, keyA)
	idsB := b.tenantObjects(t, keyB)
	routes := server.New(config.Defaults(), nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Routes()

	t.Run("ObjectsOfAnotherOrganizationAreNotFound", func(t *testing.T) {
		for _, route := range routes {
			method, path, _ := strings.Cut(route, " ")
			// The admin pages authenticate with a session, not a key:
			// TestAdmin/NeverCrossesOrganizations covers them.
			if !strings.Contains(path, "{id}") || !strings.HasPrefix(path, "/v1/") {
				continue
			}
			prefix := path[:strings.Index(path, "{id}")]
			id, ok := idsB[prefix]
			require.True(t, ok, "route %s has no object of another organization to try: add one to tenantObjects", route)
			body, contentType := crossTenantBodies[route], ""
			if body != "" {
				contentType = "application/json"
			}
			var p server.Problem
			resp := b.call(t, method, strings.Replace(path, "{id}", id, 1), keyA, contentType, strings.NewReader(body), &p)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s with another organization's id: %+v", route, p)
			require.Equal(t, "urn:rekomi:problem:not_found", p.Type, route)
		}
		after := b.tenantIDsVisible(t, keyB, idsB)
		require.Equal(t, len(idsB), after, "organization B's objects are all still there and unchanged in number")
	})

	t.Run("APromoCodeOfTheSameNameStaysItsOrganizations", func(t *testing.T) {
		codeA, codeB := idsA["/v1/promo-codes/"], idsB["/v1/promo-codes/"]
		var before map[string]any
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/promo-codes/"+codeB, keyB, "", nil, &before).StatusCode)
		move := `{"affiliate_id":"` + idsA["/v1/affiliates/"] + `","campaign_id":"` + idsA["/v1/campaigns/"] + `"}`
		for _, req := range []struct{ method, path, body string }{
			{http.MethodPatch, "/v1/promo-codes/" + codeB, move},
			{http.MethodPost, "/v1/promo-codes/" + codeB + "/disable", ""},
		} {
			var p server.Problem
			resp := b.call(t, req.method, req.path, keyA, "application/json", strings.NewReader(req.body), &p)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s: %+v", req.method, req.path, p)
		}
		var after map[string]any
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/promo-codes/"+codeB, keyB, "", nil, &after).StatusCode)
		require.Equal(t, before, after, "B's SPRING is neither moved to A's affiliate nor disabled")
		require.Nil(t, after["disabled_at"], "nor by the walk of every route before")
		require.Equal(t, idsB["/v1/affiliates/"], after["affiliate_id"])
		require.Equal(t, idsB["/v1/campaigns/"], after["campaign_id"])
		for key, own := range map[string]string{keyA: codeA, keyB: codeB} {
			var list promoCodeListJSON
			b.call(t, http.MethodGet, "/v1/promo-codes?limit=100", key, "", nil, &list)
			require.Len(t, list.Data, 1, "each organization lists its own SPRING alone")
			require.Equal(t, own, list.Data[0].ID.String())
		}
	})

	t.Run("ListsAndExportsNeverHoldAnotherOrganizationsIDs", func(t *testing.T) {
		for _, route := range routes {
			method, path, _ := strings.Cut(route, " ")
			if method != http.MethodGet || strings.Contains(path, "{") || !strings.HasPrefix(path, "/v1/") {
				continue
			}
			resp := b.rawGet(t, path+"?limit=100", path, keyA)
			require.Equal(t, http.StatusOK, resp.status, route)
			for prefix, id := range idsB {
				require.NotContains(t, resp.body, id, "%s lists the object of another organization under %s", route, prefix)
			}
		}
	})
}

// tenantIDsVisible counts how many of ids the key's organization can read.
func (b *bundle) tenantIDsVisible(t *testing.T, key string, ids map[string]string) int {
	t.Helper()
	n := 0
	for prefix, id := range ids {
		if b.call(t, http.MethodGet, prefix+id, key, "", nil, nil).StatusCode == http.StatusOK {
			n++
		}
	}
	return n
}

// rawGet fetches path with a query if the route takes one, as text.
func (b *bundle) rawGet(t *testing.T, withQuery, path, key string) rawAnswer {
	t.Helper()
	target := withQuery
	if strings.HasSuffix(path, "/verify") || strings.HasSuffix(path, "/export") || strings.HasSuffix(path, ".csv") {
		target = path
	}
	req, err := http.NewRequest(http.MethodGet, b.base+target, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(data)}
}
