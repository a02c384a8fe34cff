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
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

type linkJSON struct {
	Object         string     `json:"object"`
	ID             uuid.UUID  `json:"id"`
	AffiliateID    uuid.UUID  `json:"affiliate_id"`
	CampaignID     uuid.UUID  `json:"campaign_id"`
	Code           string     `json:"code"`
	URL            string     `json:"url"`
	DestinationURL string     `json:"destination_url"`
	DisabledAt     *time.Time `json:"disabled_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

type linkListJSON struct {
	Data    []linkJSON `json:"data"`
	HasMore bool       `json:"has_more"`
}

func (l linkListJSON) ids() []uuid.UUID {
	out := make([]uuid.UUID, 0, len(l.Data))
	for _, k := range l.Data {
		out = append(out, k.ID)
	}
	return out
}

func linkBody(affiliate, campaign uuid.UUID, extra string) string {
	return `{"affiliate_id":"` + affiliate.String() + `","campaign_id":"` + campaign.String() + `","destination_url":"https://shop.example.com/pricing"` + extra + `}`
}

func (b *bundle) link(t *testing.T, key string, affiliate, campaign uuid.UUID, extra string) linkJSON {
	t.Helper()
	var l linkJSON
	resp := b.call(t, http.MethodPost, "/v1/links", key, js, strings.NewReader(linkBody(affiliate, campaign, extra)), &l)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return l
}

// resolveCode looks a code up in the routing table as the click redirect
// will, before any tenant is known.
func (b *bundle) resolveCode(t *testing.T, code string) (org, link uuid.UUID, found bool) {
	t.Helper()
	ctx := context.Background()
	org, link, err := b.db.LookupRoute(ctx, db.RouteLinkCode, code)
	if errors.Is(err, db.ErrNoRoute) {
		return uuid.Nil, uuid.Nil, false
	}
	require.NoError(t, err)
	return org, link, true
}

func TestReferralLinks(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupAffiliates(t, srv)
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	affA, campA := b.activeAffiliate(t, keyA, "ada@example.com"), b.campaign(t, keyA, "Links A")
	affB, campB := b.activeAffiliate(t, keyB, "bob@example.com"), b.campaign(t, keyB, "Links B")

	t.Run("CreatesGetsListsUpdatesAndDisables", func(t *testing.T) {
		l := b.link(t, keyA, affA.ID, campA.ID, "")
		require.Equal(t, "referral_link", l.Object)
		require.Regexp(t, `^[A-Za-z0-9]{10}$`, l.Code, "a generated code")
		require.Equal(t, testBaseURL+"/r/"+l.Code, l.URL)
		require.Equal(t, "https://shop.example.com/pricing", l.DestinationURL)
		require.Nil(t, l.DisabledAt)
		org, target, found := b.resolveCode(t, l.Code)
		require.True(t, found)
		require.Equal(t, orgA, org)
		require.Equal(t, l.ID, target)

		var got linkJSON
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/links/"+l.ID.String(), keyA, "", nil, &got).StatusCode)
		require.Equal(t, l, got)

		var patched linkJSON
		resp := b.call(t, http.MethodPatch, "/v1/links/"+l.ID.String(), keyA, js,
			strings.NewReader(`{"destination_url":"HTTPS://shop.example.com/new?utm_source=aff#top"}`), &patched)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "https://shop.example.com/new?utm_source=aff#top", patched.DestinationURL, "the scheme is lower-cased")
		require.Equal(t, l.Code, patched.Code)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/v1/links/"+l.ID.String(), keyA, js,
			strings.NewReader(`{"destination_url":"https://shop.example.com/new?utm_source=aff#top"}`), nil).StatusCode)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/v1/links/"+l.ID.String(), keyA, js, strings.NewReader(`{}`), nil).StatusCode)

		var disabled, again linkJSON
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/links/"+l.ID.String()+"/disable", keyA, "", nil, &disabled).StatusCode)
		require.NotNil(t, disabled.DisabledAt)
		org, link, found := b.resolveCode(t, l.Code)
		require.True(t, found, "a disabled link keeps its code: shared links must never lead to another merchant")
		require.Equal(t, orgA, org)
		require.Equal(t, l.ID, link)
		var p server.Problem
		resp = b.call(t, http.MethodPost, "/v1/links", keyB, js, strings.NewReader(linkBody(affB.ID, campB.ID, `,"code":"`+l.Code+`"`)), &p)
		require.Equal(t, http.StatusConflict, resp.StatusCode, "another organization cannot take a disabled link's code")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/links/"+l.ID.String()+"/disable", keyA, "", nil, &again).StatusCode)
		require.Equal(t, disabled, again, "disabling a disabled link changes nothing")

		var list linkListJSON
		b.call(t, http.MethodGet, "/v1/links?limit=100", keyA, "", nil, &list)
		require.Contains(t, list.ids(), l.ID, "disabled links are listed")

		b.requireAudit(t, orgA, "link.created", l.ID)
		b.requireAudit(t, orgA, "link.updated", l.ID)
		b.requireAudit(t, orgA, "link.disabled", l.ID)
		b.requireAuditMetadata(t, orgA, "link.updated", l.ID, `{"changed": ["destination_url"]}`)
	})

	t.Run("TakesAChosenCodeOnce", func(t *testing.T) {
		l := b.link(t, keyA, affA.ID, campA.ID, `,"code":"spring_sale-2026"`)
		require.Equal(t, "spring_sale-2026", l.Code)
		require.Equal(t, testBaseURL+"/r/spring_sale-2026", l.URL)
		for name, key := range map[string]string{"the same organization": keyA, "another organization": keyB} {
			aff, camp := affA.ID, campA.ID
			if key == keyB {
				aff, camp = affB.ID, campB.ID
			}
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/links", key, js, strings.NewReader(linkBody(aff, camp, `,"code":"spring_sale-2026"`)), &p)
			require.Equal(t, http.StatusConflict, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:conflict", p.Type, name)
			require.NotContains(t, strings.ToLower(p.Title+p.Detail), "organization", name)
			require.NotContains(t, p.Title+p.Detail, "acme", name)
		}
		org, _, _ := b.resolveCode(t, "spring_sale-2026")
		require.Equal(t, orgA, org, "the code still resolves to its owner")
		require.Equal(t, 1, b.org(orgA).Audits(t, "link.created", l.ID))
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		suspended := b.activeAffiliate(t, keyA, "suspended@example.com")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/"+suspended.ID.String()+"/suspend", keyA, js,
			strings.NewReader(`{"reason":"fraud"}`), nil).StatusCode)
		archived := b.campaign(t, keyA, "Archived for links")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/campaigns/"+archived.ID.String()+"/archive", keyA, "", nil, nil).StatusCode)
		withURL := func(u string) string {
			raw, err := json.Marshal(u)
			require.NoError(t, err)
			return `{"affiliate_id":"` + affA.ID.String() + `","campaign_id":"` + campA.ID.String() + `","destination_url":` + string(raw) + `}`
		}
		cases := map[string]struct {
			contentType, body string
			status            int
			problem, field    string
		}{
			"unknown field":          {js, linkBody(affA.ID, campA.ID, `,"clicks":0`), 400, "invalid_json", ""},
			"wrong type":             {js, `{"affiliate_id":1,"campaign_id":"` + campA.ID.String() + `","destination_url":"https://a.example"}`, 400, "invalid_json", ""},
			"not JSON":               {"text/plain", `code=abcd`, 415, "unsupported_media_type", ""},
			"missing affiliate":      {js, `{"campaign_id":"` + campA.ID.String() + `","destination_url":"https://a.example"}`, 422, "validation_failed", "affiliate_id"},
			"missing destination":    {js, `{"affiliate_id":"` + affA.ID.String() + `","campaign_id":"` + campA.ID.String() + `"}`, 422, "validation_failed", "destination_url"},
			"malformed affiliate id": {js, `{"affiliate_id":"ada","campaign_id":"` + campA.ID.String() + `","destination_url":"https://a.example"}`, 422, "validation_failed", "affiliate_id"},
			"unknown affiliate":      {js, linkBody(uuid.New(), campA.ID, ""), 422, "validation_failed", "affiliate_id"},
			"another org affiliate":  {js, linkBody(affB.ID, campA.ID, ""), 422, "validation_failed", "affiliate_id"},
			"suspended affiliate":    {js, linkBody(suspended.ID, campA.ID, ""), 422, "validation_failed", "affiliate_id"},
			"unknown campaign":       {js, linkBody(affA.ID, uuid.New(), ""), 422, "validation_failed", "campaign_id"},
			"another org campaign":   {js, linkBody(affA.ID, campB.ID, ""), 422, "validation_failed", "campaign_id"},
			"archived campaign":      {js, linkBody(affA.ID, archived.ID, ""), 422, "validation_failed", "campaign_id"},
			"javascript URL":         {js, withURL("javascript:alert(1)"), 422, "validation_failed", "destination_url"},
			"data URL":               {js, withURL("data:text/html,<script>alert(1)</script>"), 422, "validation_failed", "destination_url"},
			"ftp URL":                {js, withURL("ftp://files.example.com/a"), 422, "validation_failed", "destination_url"},
			"relative URL":           {js, withURL("/pricing"), 422, "validation_failed", "destination_url"},
			"scheme-relative URL":    {js, withURL("//evil.example/"), 422, "validation_failed", "destination_url"},
			"no host":                {js, withURL("https:///pricing"), 422, "validation_failed", "destination_url"},
			"opaque https":           {js, withURL("https:evil.example"), 422, "validation_failed", "destination_url"},
			"port without host":      {js, withURL("https://:443/"), 422, "validation_failed", "destination_url"},
			"user information":       {js, withURL("https://shop.example.com@evil.example/"), 422, "validation_failed", "destination_url"},
			"user and password":      {js, withURL("https://user:pw@shop.example.com/"), 422, "validation_failed", "destination_url"},
			"backslash":              {js, withURL(`https://evil.example\@shop.example.com/`), 422, "validation_failed", "destination_url"},
			"newline":                {js, withURL("https://shop.example.com/\r\nSet-Cookie: a=b"), 422, "validation_failed", "destination_url"},
			"NUL":                    {js, withURL("https://shop.example.com/\x00"), 422, "validation_failed", "destination_url"},
			"tab":                    {js, withURL("https://shop.example.com/\t"), 422, "validation_failed", "destination_url"},
			"space":                  {js, withURL("https://shop.example.com/a b"), 422, "validation_failed", "destination_url"},
			"C1 control":             {js, withURL("https://shop.example.com/\u0085"), 422, "validation_failed", "destination_url"},
			"too long URL":           {js, withURL("https://shop.example.com/" + strings.Repeat("a", 2025)), 422, "validation_failed", "destination_url"},
			"code too short":         {js, linkBody(affA.ID, campA.ID, `,"code":"abc"`), 422, "validation_failed", "code"},
			"code too long":          {js, linkBody(affA.ID, campA.ID, `,"code":"`+strings.Repeat("c", 65)+`"`), 422, "validation_failed", "code"},
			"code with a slash":      {js, linkBody(affA.ID, campA.ID, `,"code":"a/b/c"`), 422, "validation_failed", "code"},
			"code with a space":      {js, linkBody(affA.ID, campA.ID, `,"code":"ab cd"`), 422, "validation_failed", "code"},
			"code not ASCII":         {js, linkBody(affA.ID, campA.ID, `,"code":"café"`), 422, "validation_failed", "code"},
			"empty code":             {js, linkBody(affA.ID, campA.ID, `,"code":""`), 422, "validation_failed", "code"},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/links", keyA, tc.contentType, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		longest := "https://shop.example.com/" + strings.Repeat("a", 2048-len("https://shop.example.com/"))
		var l linkJSON
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/links", keyA, js, strings.NewReader(withURL(longest)), &l).StatusCode)
		var p server.Problem
		resp := b.call(t, http.MethodPatch, "/v1/links/"+l.ID.String(), keyA, js, strings.NewReader(`{"destination_url":"javascript:alert(1)"}`), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "destination_url", p.Errors[0].Field)
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodPatch, "/v1/links/"+l.ID.String(), keyA, js,
			strings.NewReader(`{"code":"renamed"}`), nil).StatusCode, "a code cannot change")
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/links?affiliate_id=ada", keyA, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/links?campaign_id=1", keyA, "", nil, nil).StatusCode)
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		l := b.link(t, keyA, affA.ID, campA.ID, "")
		path := "/v1/links/" + l.ID.String()
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, path, ""},
			{http.MethodPatch, path, `{"destination_url":"https://evil.example/"}`},
			{http.MethodPost, path + "/disable", ""},
		} {
			var p server.Problem
			resp := b.call(t, req.method, req.path, keyB, js, strings.NewReader(req.body), &p)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", req.method, req.path)
			require.Equal(t, "urn:rekomi:problem:not_found", p.Type)
		}
		b.link(t, keyB, affB.ID, campB.ID, "")
		for _, query := range []string{"", "&affiliate_id=" + affA.ID.String(), "&campaign_id=" + campA.ID.String()} {
			var list linkListJSON
			b.call(t, http.MethodGet, "/v1/links?limit=100"+query, keyB, "", nil, &list)
			require.NotContains(t, list.ids(), l.ID, query)
			for _, k := range list.Data {
				require.Equal(t, affB.ID, k.AffiliateID, query)
			}
		}
		var got linkJSON
		b.call(t, http.MethodGet, path, keyA, "", nil, &got)
		require.Equal(t, l, got, "untouched")
		_, _, found := b.resolveCode(t, l.Code)
		require.True(t, found)
		require.Zero(t, b.org(orgB).Audits(t, "link.disabled", l.ID))
	})

	t.Run("PaginatesAndFilters", func(t *testing.T) {
		_, key := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		aff1, aff2 := b.activeAffiliate(t, key, "one@example.com"), b.invite(t, key, "two@example.com")
		c1, c2 := b.campaign(t, key, "One"), b.campaign(t, key, "Two")
		l1 := b.link(t, key, aff1.ID, c1.ID, "")
		l2 := b.link(t, key, aff1.ID, c2.ID, "")
		l3 := b.link(t, key, aff2.ID, c1.ID, "")
		var first, second, byAffiliate, byCampaign, both linkListJSON
		b.call(t, http.MethodGet, "/v1/links?limit=2", key, "", nil, &first)
		require.True(t, first.HasMore)
		require.Equal(t, []uuid.UUID{l3.ID, l2.ID}, first.ids())
		b.call(t, http.MethodGet, "/v1/links?limit=2&starting_after="+l2.ID.String(), key, "", nil, &second)
		require.False(t, second.HasMore)
		require.Equal(t, []uuid.UUID{l1.ID}, second.ids())
		b.call(t, http.MethodGet, "/v1/links?affiliate_id="+aff1.ID.String(), key, "", nil, &byAffiliate)
		require.Equal(t, []uuid.UUID{l2.ID, l1.ID}, byAffiliate.ids())
		b.call(t, http.MethodGet, "/v1/links?campaign_id="+c1.ID.String(), key, "", nil, &byCampaign)
		require.Equal(t, []uuid.UUID{l3.ID, l1.ID}, byCampaign.ids())
		b.call(t, http.MethodGet, "/v1/links?campaign_id="+c1.ID.String()+"&affiliate_id="+aff2.ID.String(), key, "", nil, &both)
		require.Equal(t, []uuid.UUID{l3.ID}, both.ids())
	})

	t.Run("ReplaysAnIdempotentCreate", func(t *testing.T) {
		body := linkBody(affA.ID, campA.ID, "")
		first := b.post(t, "/v1/links", keyA, "link-replay", body)
		require.Equal(t, http.StatusCreated, first.status)
		second := b.post(t, "/v1/links", keyA, "link-replay", body)
		require.Equal(t, first.body, second.body)
		require.Equal(t, "true", second.header.Get(server.IdempotentReplayedHeader))
		var l linkJSON
		require.NoError(t, json.Unmarshal([]byte(first.body), &l))
		ctx := context.Background()
		var links int
		require.NoError(t, b.db.TenantTx(ctx, orgA, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM referral_links WHERE created_at >= $1`, l.CreatedAt).Scan(&links)
		}))
		require.Equal(t, 1, links, "one link, and so one generated code")
		b.requireAudit(t, orgA, "link.created", l.ID)
	})

	t.Run("CancelledOrganizationReadsButCannotWrite", func(t *testing.T) {
		org, key := b.seedOrg(t, "hooli", server.ScopeRead, server.ScopeWrite)
		aff, camp := b.activeAffiliate(t, key, "h@example.com"), b.campaign(t, key, "Hooli")
		l := b.link(t, key, aff.ID, camp.ID, "")
		b.cancelOrg(t, org)
		for _, req := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/links", linkBody(aff.ID, camp.ID, "")},
			{http.MethodPatch, "/v1/links/" + l.ID.String(), `{"destination_url":"https://other.example/"}`},
			{http.MethodPost, "/v1/links/" + l.ID.String() + "/disable", ""},
		} {
			var p server.Problem
			resp := b.call(t, req.method, req.path, key, js, strings.NewReader(req.body), &p)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", req.method, req.path)
			require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		}
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/links/"+l.ID.String(), key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/links", key, "", nil, nil).StatusCode)
		_, _, found := b.resolveCode(t, l.Code)
		require.True(t, found, "still resolves")
	})

	t.Run("AnswersFitTheOpenAPIDocument", func(t *testing.T) {
		var v any
		resp := b.call(t, http.MethodPost, "/v1/links", keyA, js, strings.NewReader(linkBody(affA.ID, campA.ID, "")), &v)
		requireFitsOpenAPI(t, "post", "/v1/links", resp, v)
		path := "/v1/links/" + v.(map[string]any)["id"].(string)
		for _, req := range []struct{ method, path, documented, body string }{
			{http.MethodGet, path, "/v1/links/{id}", ""},
			{http.MethodPatch, path, "/v1/links/{id}", `{"destination_url":"https://a.example/"}`},
			{http.MethodPost, path + "/disable", "/v1/links/{id}/disable", ""},
			{http.MethodGet, "/v1/links", "/v1/links", ""},
			{http.MethodPost, "/v1/links", "/v1/links", `{"code":"x"}`},
			{http.MethodPost, "/v1/links", "/v1/links", linkBody(affA.ID, campA.ID, `,"code":"spring_sale-2026"`)},
			{http.MethodGet, "/v1/links/" + uuid.NewString(), "/v1/links/{id}", ""},
		} {
			v = nil
			resp := b.call(t, req.method, req.path, keyA, js, strings.NewReader(req.body), &v)
			requireFitsOpenAPI(t, strings.ToLower(req.method), req.documented, resp, v)
		}
	})
}
