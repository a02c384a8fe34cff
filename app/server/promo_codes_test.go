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
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server"
)

type promoCodeJSON struct {
	Object      string     `json:"object"`
	ID          uuid.UUID  `json:"id"`
	Code        string     `json:"code"`
	AffiliateID uuid.UUID  `json:"affiliate_id"`
	CampaignID  uuid.UUID  `json:"campaign_id"`
	DisabledAt  *time.Time `json:"disabled_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

type promoCodeListJSON struct {
	Data    []promoCodeJSON `json:"data"`
	HasMore bool            `json:"has_more"`
}

func (l promoCodeListJSON) ids() []uuid.UUID {
	out := make([]uuid.UUID, 0, len(l.Data))
	for _, p := range l.Data {
		out = append(out, p.ID)
	}
	return out
}

func promoCodeBody(code string, affiliate, campaign uuid.UUID) string {
	return `{"code":"` + code + `","affiliate_id":"` + affiliate.String() + `","campaign_id":"` + campaign.String() + `"}`
}

func (b *bundle) promoCode(t *testing.T, key, code string, affiliate, campaign uuid.UUID) promoCodeJSON {
	t.Helper()
	var p promoCodeJSON
	resp := b.call(t, http.MethodPost, "/v1/promo-codes", key, js, strings.NewReader(promoCodeBody(code, affiliate, campaign)), &p)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return p
}

// findPromoCode looks code up in org as the attribution of a sale will,
// with ledger.FindPromoCode in org's tenant transaction.
func (b *bundle) findPromoCode(t *testing.T, org uuid.UUID, code string) (ledger.PromoCode, bool) {
	t.Helper()
	var p ledger.PromoCode
	var found bool
	b.org(org).Tx(t, func(ctx context.Context, tx pgx.Tx) (err error) {
		p, found, err = ledger.FindPromoCode(ctx, tx, org, code)
		return err
	})
	return p, found
}

func TestPromoCodes(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupAffiliates(t, srv)
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	affA, campA := b.activeAffiliate(t, keyA, "ada@example.com"), b.campaign(t, keyA, "Codes A")
	affB, campB := b.activeAffiliate(t, keyB, "bob@example.com"), b.campaign(t, keyB, "Codes B")

	t.Run("CreatesGetsListsUpdatesAndDisables", func(t *testing.T) {
		p := b.promoCode(t, keyA, "Launch-2026", affA.ID, campA.ID)
		require.Equal(t, "promo_code", p.Object)
		require.Equal(t, "Launch-2026", p.Code, "kept as written")
		require.Equal(t, affA.ID, p.AffiliateID)
		require.Equal(t, campA.ID, p.CampaignID)
		require.Nil(t, p.DisabledAt)
		found, ok := b.findPromoCode(t, orgA, " launch-2026 ")
		require.True(t, ok, "a checkout's code in another case, with spaces, finds it")
		require.Equal(t, p.ID, found.ID)

		var got promoCodeJSON
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/promo-codes/"+p.ID.String(), keyA, "", nil, &got).StatusCode)
		require.Equal(t, p, got)

		other := b.activeAffiliate(t, keyA, "eve@example.com")
		otherCampaign := b.campaign(t, keyA, "Codes A2")
		var patched promoCodeJSON
		resp := b.call(t, http.MethodPatch, "/v1/promo-codes/"+p.ID.String(), keyA, js,
			strings.NewReader(`{"affiliate_id":"`+other.ID.String()+`","campaign_id":"`+otherCampaign.ID.String()+`"}`), &patched)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, other.ID, patched.AffiliateID)
		require.Equal(t, otherCampaign.ID, patched.CampaignID)
		require.Equal(t, p.Code, patched.Code)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/v1/promo-codes/"+p.ID.String(), keyA, js,
			strings.NewReader(`{"affiliate_id":"`+other.ID.String()+`"}`), nil).StatusCode)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/v1/promo-codes/"+p.ID.String(), keyA, js, strings.NewReader(`{}`), nil).StatusCode)
		found, _ = b.findPromoCode(t, orgA, "LAUNCH-2026")
		require.Equal(t, other.ID, found.AffiliateID, "the code now credits the other affiliate")

		var disabled, again promoCodeJSON
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/promo-codes/"+p.ID.String()+"/disable", keyA, "", nil, &disabled).StatusCode)
		require.NotNil(t, disabled.DisabledAt)
		_, ok = b.findPromoCode(t, orgA, "launch-2026")
		require.False(t, ok, "a disabled code attributes nothing")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/promo-codes/"+p.ID.String()+"/disable", keyA, "", nil, &again).StatusCode)
		require.Equal(t, disabled, again, "disabling a disabled code changes nothing")
		var problem server.Problem
		resp = b.call(t, http.MethodPatch, "/v1/promo-codes/"+p.ID.String(), keyA, js,
			strings.NewReader(`{"affiliate_id":"`+affA.ID.String()+`"}`), &problem)
		require.Equal(t, http.StatusConflict, resp.StatusCode, "a disabled code cannot change")
		require.Equal(t, "urn:rekomi:problem:conflict", problem.Type)

		var list promoCodeListJSON
		b.call(t, http.MethodGet, "/v1/promo-codes?limit=100", keyA, "", nil, &list)
		require.Contains(t, list.ids(), p.ID, "disabled codes are listed")

		b.requireAudit(t, orgA, "promo_code.created", p.ID)
		b.requireAudit(t, orgA, "promo_code.updated", p.ID)
		b.requireAudit(t, orgA, "promo_code.disabled", p.ID)
		b.requireAuditMetadata(t, orgA, "promo_code.created", p.ID,
			`{"code": "Launch-2026", "affiliate_id": "`+affA.ID.String()+`", "campaign_id": "`+campA.ID.String()+`"}`)
		b.requireAuditMetadata(t, orgA, "promo_code.updated", p.ID,
			`{"changed": ["affiliate_id", "campaign_id"], "affiliate_id": "`+other.ID.String()+`", "campaign_id": "`+otherCampaign.ID.String()+`"}`)
	})

	t.Run("TakesACodeOncePerOrganizationInAnyCase", func(t *testing.T) {
		p := b.promoCode(t, keyA, "SPRING", affA.ID, campA.ID)
		for _, code := range []string{"SPRING", "spring", "Spring"} {
			var problem server.Problem
			resp := b.call(t, http.MethodPost, "/v1/promo-codes", keyA, js, strings.NewReader(promoCodeBody(code, affA.ID, campA.ID)), &problem)
			require.Equal(t, http.StatusConflict, resp.StatusCode, code)
			require.Equal(t, "urn:rekomi:problem:conflict", problem.Type, code)
		}
		q := b.promoCode(t, keyB, "spring", affB.ID, campB.ID)
		require.NotEqual(t, p.ID, q.ID, "another organization has a code of its own")
		require.Equal(t, 1, b.org(orgA).Audits(t, "promo_code.created", p.ID))
		require.Equal(t, 1, b.org(orgA).Count(t, `SELECT count(*) FROM promo_codes WHERE lower(code) = 'spring'`))
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		suspended := b.activeAffiliate(t, keyA, "suspended-codes@example.com")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/"+suspended.ID.String()+"/suspend", keyA, js,
			strings.NewReader(`{"reason":"fraud"}`), nil).StatusCode)
		archived := b.campaign(t, keyA, "Archived for codes")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/campaigns/"+archived.ID.String()+"/archive", keyA, "", nil, nil).StatusCode)
		withCode := func(code string) string {
			raw, err := json.Marshal(code)
			require.NoError(t, err)
			return `{"code":` + string(raw) + `,"affiliate_id":"` + affA.ID.String() + `","campaign_id":"` + campA.ID.String() + `"}`
		}
		cases := map[string]struct {
			contentType, body string
			status            int
			problem           string
			fields            []string
		}{
			"unknown field":          {js, `{"code":"X1","affiliate_id":"` + affA.ID.String() + `","campaign_id":"` + campA.ID.String() + `","uses":3}`, 400, "invalid_json", nil},
			"wrong type":             {js, `{"code":1,"affiliate_id":"` + affA.ID.String() + `","campaign_id":"` + campA.ID.String() + `"}`, 400, "invalid_json", nil},
			"not JSON":               {"text/plain", `code=X1`, 415, "unsupported_media_type", nil},
			"nothing":                {js, `{}`, 422, "validation_failed", []string{"code", "affiliate_id", "campaign_id"}},
			"malformed ids":          {js, `{"code":"X1","affiliate_id":"ada","campaign_id":"1"}`, 422, "validation_failed", []string{"affiliate_id", "campaign_id"}},
			"unknown affiliate":      {js, promoCodeBody("X1", uuid.New(), campA.ID), 422, "validation_failed", []string{"affiliate_id"}},
			"another org affiliate":  {js, promoCodeBody("X1", affB.ID, campA.ID), 422, "validation_failed", []string{"affiliate_id"}},
			"suspended affiliate":    {js, promoCodeBody("X1", suspended.ID, campA.ID), 422, "validation_failed", []string{"affiliate_id"}},
			"unknown campaign":       {js, promoCodeBody("X1", affA.ID, uuid.New()), 422, "validation_failed", []string{"campaign_id"}},
			"another org campaign":   {js, promoCodeBody("X1", affA.ID, campB.ID), 422, "validation_failed", []string{"campaign_id"}},
			"archived campaign":      {js, promoCodeBody("X1", affA.ID, archived.ID), 422, "validation_failed", []string{"campaign_id"}},
			"both unusable":          {js, promoCodeBody("X1", suspended.ID, archived.ID), 422, "validation_failed", []string{"affiliate_id", "campaign_id"}},
			"empty code":             {js, withCode(""), 422, "validation_failed", []string{"code"}},
			"code too long":          {js, withCode(strings.Repeat("c", 65)), 422, "validation_failed", []string{"code"}},
			"code with a space":      {js, withCode("SPRING SALE"), 422, "validation_failed", []string{"code"}},
			"code with padding":      {js, withCode(" SPRING2 "), 422, "validation_failed", []string{"code"}},
			"code with a percent":    {js, withCode("50%OFF"), 422, "validation_failed", []string{"code"}},
			"code not ASCII":         {js, withCode("ÉTÉ"), 422, "validation_failed", []string{"code"}},
			"code with a Kelvin K":   {js, withCode("\u212aELVIN"), 422, "validation_failed", []string{"code"}},
			"code with a NUL":        {js, withCode("A\x00B"), 422, "validation_failed", []string{"code"}},
			"code with a newline":    {js, withCode("AB\n"), 422, "validation_failed", []string{"code"}},
			"code of fullwidth text": {js, withCode("\uff33\uff30\uff32"), 422, "validation_failed", []string{"code"}},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/promo-codes", keyA, tc.contentType, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			require.Equal(t, tc.fields, fields, name)
		}
		require.Zero(t, b.org(orgA).Count(t, `SELECT count(*) FROM promo_codes WHERE code = 'X1'`), "nothing was created")

		longest := b.promoCode(t, keyA, strings.Repeat("Z", 64), affA.ID, campA.ID)
		path := "/v1/promo-codes/" + longest.ID.String()
		for name, tc := range map[string]struct {
			body   string
			status int
			field  string
		}{
			"a code cannot change":   {`{"code":"RENAMED"}`, 400, ""},
			"malformed affiliate":    {`{"affiliate_id":"ada"}`, 422, "affiliate_id"},
			"suspended affiliate":    {`{"affiliate_id":"` + suspended.ID.String() + `"}`, 422, "affiliate_id"},
			"archived campaign":      {`{"campaign_id":"` + archived.ID.String() + `"}`, 422, "campaign_id"},
			"another org's campaign": {`{"campaign_id":"` + campB.ID.String() + `"}`, 422, "campaign_id"},
		} {
			var p server.Problem
			resp := b.call(t, http.MethodPatch, path, keyA, js, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		var unchanged promoCodeJSON
		b.call(t, http.MethodGet, path, keyA, "", nil, &unchanged)
		require.Equal(t, longest, unchanged)
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/promo-codes?affiliate_id=ada", keyA, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/promo-codes?campaign_id=1", keyA, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodGet, "/v1/promo-codes/SPRING", keyA, "", nil, nil).StatusCode)
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		p := b.promoCode(t, keyA, "Autumn", affA.ID, campA.ID)
		path := "/v1/promo-codes/" + p.ID.String()
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, path, ""},
			{http.MethodPatch, path, `{"affiliate_id":"` + affB.ID.String() + `","campaign_id":"` + campB.ID.String() + `"}`},
			{http.MethodPatch, path, `{}`},
			{http.MethodPost, path + "/disable", ""},
		} {
			var problem server.Problem
			resp := b.call(t, req.method, req.path, keyB, js, strings.NewReader(req.body), &problem)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", req.method, req.path)
			require.Equal(t, "urn:rekomi:problem:not_found", problem.Type)
		}
		q := b.promoCode(t, keyB, "AUTUMN", affB.ID, campB.ID)
		for _, query := range []string{"", "&affiliate_id=" + affA.ID.String(), "&campaign_id=" + campA.ID.String()} {
			var list promoCodeListJSON
			b.call(t, http.MethodGet, "/v1/promo-codes?limit=100"+query, keyB, "", nil, &list)
			require.NotContains(t, list.ids(), p.ID, query)
			for _, c := range list.Data {
				require.Equal(t, affB.ID, c.AffiliateID, query)
			}
		}
		var got promoCodeJSON
		b.call(t, http.MethodGet, path, keyA, "", nil, &got)
		require.Equal(t, p, got, "untouched")
		found, ok := b.findPromoCode(t, orgA, "autumn")
		require.True(t, ok)
		require.Equal(t, p.ID, found.ID, "A's lookup finds A's code, never B's")
		found, ok = b.findPromoCode(t, orgB, "autumn")
		require.True(t, ok)
		require.Equal(t, q.ID, found.ID, "B's lookup finds B's code, never A's")
		require.Zero(t, b.org(orgB).Audits(t, "promo_code.disabled", p.ID))
		require.Zero(t, b.org(orgB).Audits(t, "promo_code.updated", p.ID))
		require.Zero(t, b.org(orgA).Audits(t, "promo_code.updated", p.ID))
	})

	t.Run("PaginatesAndFilters", func(t *testing.T) {
		_, key := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		aff1, aff2 := b.activeAffiliate(t, key, "one@example.com"), b.invite(t, key, "two@example.com")
		c1, c2 := b.campaign(t, key, "One"), b.campaign(t, key, "Two")
		p1 := b.promoCode(t, key, "P1", aff1.ID, c1.ID)
		p2 := b.promoCode(t, key, "P2", aff1.ID, c2.ID)
		p3 := b.promoCode(t, key, "P3", aff2.ID, c1.ID)
		var first, second, byAffiliate, byCampaign, both promoCodeListJSON
		b.call(t, http.MethodGet, "/v1/promo-codes?limit=2", key, "", nil, &first)
		require.True(t, first.HasMore)
		require.Equal(t, []uuid.UUID{p3.ID, p2.ID}, first.ids())
		b.call(t, http.MethodGet, "/v1/promo-codes?limit=2&starting_after="+p2.ID.String(), key, "", nil, &second)
		require.False(t, second.HasMore)
		require.Equal(t, []uuid.UUID{p1.ID}, second.ids())
		b.call(t, http.MethodGet, "/v1/promo-codes?affiliate_id="+aff1.ID.String(), key, "", nil, &byAffiliate)
		require.Equal(t, []uuid.UUID{p2.ID, p1.ID}, byAffiliate.ids())
		b.call(t, http.MethodGet, "/v1/promo-codes?campaign_id="+c1.ID.String(), key, "", nil, &byCampaign)
		require.Equal(t, []uuid.UUID{p3.ID, p1.ID}, byCampaign.ids())
		b.call(t, http.MethodGet, "/v1/promo-codes?campaign_id="+c1.ID.String()+"&affiliate_id="+aff2.ID.String(), key, "", nil, &both)
		require.Equal(t, []uuid.UUID{p3.ID}, both.ids())
	})

	t.Run("ReplaysAnIdempotentCreate", func(t *testing.T) {
		body := promoCodeBody("REPLAYED", affA.ID, campA.ID)
		first := b.post(t, "/v1/promo-codes", keyA, "promo-replay", body)
		require.Equal(t, http.StatusCreated, first.status)
		second := b.post(t, "/v1/promo-codes", keyA, "promo-replay", body)
		require.Equal(t, http.StatusCreated, second.status, "the first answer, not a conflict with the code it created")
		require.Equal(t, first.body, second.body)
		require.Equal(t, "true", second.header.Get(server.IdempotentReplayedHeader))
		var p promoCodeJSON
		require.NoError(t, json.Unmarshal([]byte(first.body), &p))
		b.requireAudit(t, orgA, "promo_code.created", p.ID)
		other := b.post(t, "/v1/promo-codes", keyA, "promo-replay", promoCodeBody("REPLAYED2", affA.ID, campA.ID))
		require.Equal(t, http.StatusConflict, other.status, "the same key with another body")
		require.Zero(t, b.org(orgA).Count(t, `SELECT count(*) FROM promo_codes WHERE code = 'REPLAYED2'`))
	})

	t.Run("CancelledOrganizationReadsButCannotWrite", func(t *testing.T) {
		org, key := b.seedOrg(t, "hooli", server.ScopeRead, server.ScopeWrite)
		aff, camp := b.activeAffiliate(t, key, "h@example.com"), b.campaign(t, key, "Hooli")
		p := b.promoCode(t, key, "HOOLI", aff.ID, camp.ID)
		b.cancelOrg(t, org)
		for _, req := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/promo-codes", promoCodeBody("HOOLI2", aff.ID, camp.ID)},
			{http.MethodPatch, "/v1/promo-codes/" + p.ID.String(), `{"campaign_id":"` + camp.ID.String() + `"}`},
			{http.MethodPost, "/v1/promo-codes/" + p.ID.String() + "/disable", ""},
		} {
			var problem server.Problem
			resp := b.call(t, req.method, req.path, key, js, strings.NewReader(req.body), &problem)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", req.method, req.path)
			require.Equal(t, "urn:rekomi:problem:organization_cancelled", problem.Type)
		}
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/promo-codes/"+p.ID.String(), key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/promo-codes", key, "", nil, nil).StatusCode)
		_, ok := b.findPromoCode(t, org, "hooli")
		require.True(t, ok, "still enabled")
	})

	t.Run("NeedsItsScopes", func(t *testing.T) {
		_, readOnly := b.seedOrg(t, "read-only", server.ScopeRead)
		_, writeOnly := b.seedOrg(t, "write-only", server.ScopeWrite)
		var problem server.Problem
		resp := b.call(t, http.MethodPost, "/v1/promo-codes", readOnly, js, strings.NewReader(promoCodeBody("NOPE", affA.ID, campA.ID)), &problem)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, "urn:rekomi:problem:insufficient_scope", problem.Type)
		resp = b.call(t, http.MethodGet, "/v1/promo-codes", writeOnly, "", nil, &problem)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Equal(t, http.StatusUnauthorized, b.call(t, http.MethodGet, "/v1/promo-codes", "", "", nil, nil).StatusCode)
	})

	t.Run("IsExportedWithItsOrganization", func(t *testing.T) {
		p := b.promoCode(t, keyA, "EXPORTED", affA.ID, campA.ID)
		var rows []map[string]any
		for _, l := range b.export(t, keyA) {
			if l.Table == "promo_codes" {
				rows = append(rows, l.Data)
			}
		}
		require.NotEmpty(t, rows)
		var codes []string
		for _, r := range rows {
			require.Equal(t, orgA.String(), r["org_id"])
			codes = append(codes, r["code"].(string))
		}
		require.Contains(t, codes, p.Code)
		require.NotContains(t, codes, "spring", "B's code of the same name is B's")
	})

	t.Run("AnswersFitTheOpenAPIDocument", func(t *testing.T) {
		var v any
		resp := b.call(t, http.MethodPost, "/v1/promo-codes", keyA, js, strings.NewReader(promoCodeBody("OPENAPI", affA.ID, campA.ID)), &v)
		requireFitsOpenAPI(t, "post", "/v1/promo-codes", resp, v)
		path := "/v1/promo-codes/" + v.(map[string]any)["id"].(string)
		for _, req := range []struct{ method, path, documented, body string }{
			{http.MethodGet, path, "/v1/promo-codes/{id}", ""},
			{http.MethodPatch, path, "/v1/promo-codes/{id}", `{"campaign_id":"` + campA.ID.String() + `"}`},
			{http.MethodPost, path + "/disable", "/v1/promo-codes/{id}/disable", ""},
			{http.MethodPatch, path, "/v1/promo-codes/{id}", `{"affiliate_id":"` + uuid.NewString() + `"}`},
			{http.MethodGet, "/v1/promo-codes", "/v1/promo-codes", ""},
			{http.MethodPost, "/v1/promo-codes", "/v1/promo-codes", `{"code":"x y"}`},
			{http.MethodPost, "/v1/promo-codes", "/v1/promo-codes", promoCodeBody("openapi", affA.ID, campA.ID)},
			{http.MethodGet, "/v1/promo-codes/" + uuid.NewString(), "/v1/promo-codes/{id}", ""},
		} {
			v = nil
			resp := b.call(t, req.method, req.path, keyA, js, strings.NewReader(req.body), &v)
			requireFitsOpenAPI(t, strings.ToLower(req.method), req.documented, resp, v)
		}
	})
}
