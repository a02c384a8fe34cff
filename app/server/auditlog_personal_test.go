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
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// Personal values the requests below carry; none may be stored in plaintext.
const (
	personIP    = "198.51.100.23"
	personUA    = "PersonalAgent/3.2 (seeded)"
	personEmail = "ann.person@example.com"
	personURL   = "https://ann-person.example/landing?ref=seed"
)

// callAs is call from personIP (through the trusted loopback proxy) with
// personUA.
func (b *bundle) callAs(t *testing.T, method, path, key, body string, out any) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Forwarded-For", personIP)
	req.Header.Set("User-Agent", personUA)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp
}

// personalEntries makes, as personIP with personUA, a campaign, an
// affiliate invited as personEmail and a link to personURL.
func (b *bundle) personalEntries(t *testing.T, key string) {
	t.Helper()
	var c struct{ ID uuid.UUID }
	require.Equal(t, http.StatusCreated, b.callAs(t, http.MethodPost, "/v1/campaigns", key, campaignBody("Spring"), &c).StatusCode)
	var a struct{ ID uuid.UUID }
	require.Equal(t, http.StatusCreated, b.callAs(t, http.MethodPost, "/v1/affiliates", key, `{"email":"`+personEmail+`"}`, &a).StatusCode)
	body := `{"affiliate_id":"` + a.ID.String() + `","campaign_id":"` + c.ID.String() + `","destination_url":"` + personURL + `"}`
	require.Equal(t, http.StatusCreated, b.callAs(t, http.MethodPost, "/v1/links", key, body, nil).StatusCode)
}

// auditRowsMentioning counts org's audit entries whose stored row mentions
// text in any column, as text or as the hex of its bytes, read as the admin.
func (b *bundle) auditRowsMentioning(t *testing.T, org uuid.UUID, text string) int {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	var n int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM audit_log a WHERE a.org_id = $1
		AND (strpos(lower(a::text), lower($2)) > 0 OR strpos(a::text, encode(convert_to($2, 'UTF8'), 'hex')) > 0)`,
		org, text).Scan(&n))
	return n
}

// metadataOf decodes an entry's metadata.
func metadataOf(t *testing.T, e auditEntry) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.Metadata, &m))
	return m
}

// TestAuditLogSealsPersonalFields follows an affiliate's email, a link's
// destination and the client's IP address and user agent from the API
// into the audit log: stored sealed, shown opened, found by exact match.
func TestAuditLogSealsPersonalFields(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, adminConfig, func(c *config.Config) { c.RateLimit, c.RateBurst = 1000, 1000 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	b.personalEntries(t, keyA)
	require.Equal(t, http.StatusCreated, b.callAs(t, http.MethodPost, "/v1/affiliates", keyB, `{"email":"`+personEmail+`"}`, nil).StatusCode)

	t.Run("NoPlaintextInAnyColumn", func(t *testing.T) {
		for _, org := range []uuid.UUID{orgA, orgB} {
			for _, v := range []string{personIP, personUA, personEmail, personURL, "ann-person.example"} {
				require.Zero(t, b.auditRowsMentioning(t, org, v), "%s is stored in plaintext", v)
			}
		}
	})

	all := b.auditAll(t, keyA, "")
	byAction := map[string]auditEntry{}
	for _, e := range all {
		byAction[e.Action] = e
	}

	t.Run("APIShowsThemWhileTheOrganizationLives", func(t *testing.T) {
		for _, action := range []string{"campaign.created", "affiliate.invited", "link.created"} {
			e := byAction[action]
			require.NotNil(t, e.IP, action)
			require.Equal(t, personIP, *e.IP, action)
			require.NotNil(t, e.UserAgent, action)
			require.Equal(t, personUA, *e.UserAgent, action)
		}
		require.Equal(t, personEmail, metadataOf(t, byAction["affiliate.invited"])["email"])
		require.Equal(t, personURL, metadataOf(t, byAction["link.created"])["destination_url"])
		require.Contains(t, metadataOf(t, byAction["link.created"]), "code", "the other metadata is still there")

		rows := b.exportCSV(t, keyA, "action=affiliate.invited")
		require.Len(t, rows, 1)
		require.Equal(t, []string{personIP, personUA}, rows[0][8:10])
		require.Contains(t, rows[0][11], personEmail)
	})

	t.Run("AdminPagesShowThem", func(t *testing.T) {
		a := b.browser(t, "192.0.2.44")
		a.mustSignIn(t, keyA)
		p := a.get(t, "/admin/audit-log?action=affiliate.invited")
		require.Equal(t, http.StatusOK, p.status)
		require.Equal(t, []int64{byAction["affiliate.invited"].Seq}, resultSeqs(t, p))
		require.Contains(t, p.body, "<td>"+personIP+"</td>")
		p = a.get(t, "/admin/audit-log?match="+url.QueryEscape(personEmail))
		require.Equal(t, []int64{byAction["affiliate.invited"].Seq}, resultSeqs(t, p))
		require.Contains(t, p.body, `name="match"`)
	})

	t.Run("MatchFindsAnExactPersonalValue", func(t *testing.T) {
		find := func(key, query string) []int64 { return seqs(b.auditAll(t, key, query)) }
		invited, linked := byAction["affiliate.invited"].Seq, byAction["link.created"].Seq
		require.Equal(t, []int64{invited}, find(keyA, "match="+url.QueryEscape(" Ann.Person@EXAMPLE.com ")),
			"an email is matched trimmed and in any case")
		require.Equal(t, []int64{linked, invited, byAction["campaign.created"].Seq}, find(keyA, "match="+personIP))
		require.Equal(t, []int64{linked, invited, byAction["campaign.created"].Seq}, find(keyA, "match=%3A%3Affff%3A"+personIP),
			"an IP address is matched in canonical form")
		require.Equal(t, []int64{linked}, find(keyA, "match="+url.QueryEscape(personURL)))
		require.Equal(t, []int64{linked}, find(keyA, "match_field=destination_url&match="+url.QueryEscape(personURL)))
		require.Empty(t, find(keyA, "match_field=email&match="+url.QueryEscape(personURL)), "the field narrows the match")
		require.Empty(t, find(keyA, "match=ann.person"), "a match is exact")
		require.Empty(t, find(keyA, "q=ann.person"), "personal values are not in the text q searches")
		require.Equal(t, []int64{invited}, find(keyA, "q=affiliate.inv&match="+url.QueryEscape(personEmail)), "match composes with q")
		other := find(keyB, "match="+url.QueryEscape(personEmail))
		require.Len(t, other, 1, "each organization finds its own entry only")
		require.Equal(t, []int64{1}, other)
	})

	t.Run("IndexesDifferBetweenOrganizations", func(t *testing.T) {
		ctx := context.Background()
		admin, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		var shared bool
		require.NoError(t, admin.QueryRow(ctx, `SELECT a.personal_index && b.personal_index
			FROM audit_log a, audit_log b
			WHERE a.org_id = $1 AND a.action = 'affiliate.invited' AND b.org_id = $2 AND b.action = 'affiliate.invited'`,
			orgA, orgB).Scan(&shared))
		require.False(t, shared, "the same email and IP address are indexed under unrelated keys")
	})

	t.Run("RefusesBadMatches", func(t *testing.T) {
		for name, tc := range map[string]struct{ query, field string }{
			"a field without a value": {"match_field=email", "match_field"},
			"a field of upper case":   {"match=x&match_field=Email", "match_field"},
			"a value too long":        {"match=" + strings.Repeat("x", 2049), "match"},
		} {
			var p server.Problem
			resp := b.call(t, http.MethodGet, "/v1/audit-log?"+tc.query, keyA, "", nil, &p)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
			require.Len(t, p.Errors, 1, name)
			require.Equal(t, tc.field, p.Errors[0].Field, name)
		}
	})
}

// TestAuditLogAfterTheDataKeyIsGone reads an organization's entries once
// its data key is deleted, as purge deletes it: the personal fields are
// absent, everything else is as it was and the chain verifies.
func TestAuditLogAfterTheDataKeyIsGone(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, adminConfig, func(c *config.Config) { c.RateLimit, c.RateBurst = 1000, 1000 })
	org, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	b.personalEntries(t, key)
	before := b.auditAll(t, key, "")
	b.adminExec(t, `DELETE FROM org_data_keys WHERE org_id = $1`, org)

	after := b.auditAll(t, key, "")
	require.Len(t, after, len(before))
	for i, e := range after {
		require.Nil(t, e.IP, e.Action)
		require.Nil(t, e.UserAgent, e.Action)
		require.NotContains(t, string(e.Metadata), personEmail)
		require.NotContains(t, string(e.Metadata), personURL)
		require.Equal(t, before[i].Hash, e.Hash)
		require.Equal(t, before[i].Action, e.Action)
	}
	require.Contains(t, metadataOf(t, after[0]), "code", "metadata that is not personal stays")
	require.Empty(t, b.auditAll(t, key, "match="+personIP))
	var v auditVerification
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/audit-log/verify", key, "", nil, &v).StatusCode)
	require.True(t, v.OK)
	require.Equal(t, int64(len(before)), v.Verified)

	a := b.browser(t, "192.0.2.45")
	a.mustSignIn(t, key)
	p := a.get(t, "/admin/audit-log?action=affiliate.invited")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "<em>erased</em>")
}
