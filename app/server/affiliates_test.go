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
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/payout/stripemock"
	"github.com/rekomi/rekomi/app/server"
)

type affiliateJSON struct {
	Object          string     `json:"object"`
	ID              uuid.UUID  `json:"id"`
	Email           string     `json:"email"`
	Name            *string    `json:"name"`
	Status          string     `json:"status"`
	StripeAccountID *string    `json:"stripe_account_id"`
	ApprovedAt      *time.Time `json:"approved_at"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	Invite          *struct {
		Token      string     `json:"token"`
		CampaignID *uuid.UUID `json:"campaign_id"`
		ExpiresAt  time.Time  `json:"expires_at"`
	} `json:"invite"`
}

type affiliateListJSON struct {
	Data    []affiliateJSON `json:"data"`
	HasMore bool            `json:"has_more"`
}

func (l affiliateListJSON) ids() []uuid.UUID {
	out := make([]uuid.UUID, 0, len(l.Data))
	for _, a := range l.Data {
		out = append(out, a.ID)
	}
	return out
}

// testBaseURL is the public URL the affiliate and link tests run the app at.
const testBaseURL = "https://eu.rekomi.test"

func setupAffiliates(t *testing.T, srv *dbtest.Server, opts ...server.Option) *bundle {
	t.Helper()
	return setupWith(t, srv, opts, func(c *config.Config) {
		c.MaxBodyBytes, c.PublicBaseURL = 4096, testBaseURL
		c.RateLimit, c.RateBurst = 1000, 1000 // these tests send many requests with one key
	})
}

// invite invites email and requires a 201.
func (b *bundle) invite(t *testing.T, key, email string) affiliateJSON {
	t.Helper()
	var a affiliateJSON
	resp := b.call(t, http.MethodPost, "/v1/affiliates", key, js, strings.NewReader(`{"email":"`+email+`"}`), &a)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.NotNil(t, a.Invite)
	return a
}

// activeAffiliate invites, accepts and approves an affiliate.
func (b *bundle) activeAffiliate(t *testing.T, key, email string) affiliateJSON {
	t.Helper()
	a := b.invite(t, key, email)
	require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/accept", key, js,
		strings.NewReader(`{"token":"`+a.Invite.Token+`"}`), nil).StatusCode)
	var approved affiliateJSON
	require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/"+a.ID.String()+"/approve", key, "", nil, &approved).StatusCode)
	return approved
}

func (b *bundle) campaign(t *testing.T, key, name string) campaignObject {
	t.Helper()
	var c campaignObject
	require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", key, js, strings.NewReader(campaignBody(name)), &c).StatusCode)
	return c
}

// adminExec runs sql as the Region's admin, past row-level security.
func (b *bundle) adminExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, sql, args...)
	require.NoError(t, err)
}

// tablesContaining names the tables, among those a token could reach,
// whose rows mention text anywhere, as text or in a bytea column's hex,
// read as the admin.
func (b *bundle) tablesContaining(t *testing.T, text string) []string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	var found []string
	for _, table := range []string{"affiliates", "affiliate_invites", "audit_log", "idempotency_keys", "route_keys"} {
		var n int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM `+table+` t
			WHERE strpos(t::text, $1) > 0 OR strpos(t::text, encode(convert_to($1, 'UTF8'), 'hex')) > 0`,
			text).Scan(&n))
		if n > 0 {
			found = append(found, table)
		}
	}
	return found
}

func TestAffiliates(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	// acme's Stripe key sees every account stripe-mock makes up.
	ring := newRing(t)
	_, stripeURL := stripemock.StartFiltered(t)
	b := setupAffiliates(t, srv, server.WithKeyRing(ring), server.WithStripeConnect(stripeBuilder(stripeURL, &stripemock.Recorder{})))
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	b.sealStripeKey(t, ring, orgA, stripeKeyA)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)

	t.Run("WalksTheLifecycle", func(t *testing.T) {
		c := b.campaign(t, keyA, "Affiliates launch")
		var a affiliateJSON
		resp := b.call(t, http.MethodPost, "/v1/affiliates", keyA, js, strings.NewReader(
			`{"email":"Ada.Lovelace@Example.COM","name":"Ada","campaign_id":"`+c.ID.String()+`"}`), &a)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Equal(t, "affiliate", a.Object)
		require.Equal(t, "Ada.Lovelace@example.com", a.Email, "the domain is lower-cased, the local part kept")
		require.Equal(t, "invited", a.Status)
		require.Nil(t, a.ApprovedAt)
		require.Regexp(t, `^rk_inv_[A-Za-z0-9_-]{43}$`, a.Invite.Token)
		require.Equal(t, c.ID, *a.Invite.CampaignID)
		require.WithinDuration(t, time.Now().Add(7*24*time.Hour), a.Invite.ExpiresAt, time.Minute)
		path := "/v1/affiliates/" + a.ID.String()

		var got map[string]any
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, path, keyA, "", nil, &got).StatusCode)
		require.NotContains(t, got, "invite", "the token is shown only once")

		var p server.Problem
		resp = b.call(t, http.MethodPost, path+"/approve", keyA, "", nil, &p)
		require.Equal(t, http.StatusConflict, resp.StatusCode, "an invited affiliate must accept first")
		require.Equal(t, "urn:rekomi:problem:conflict", p.Type)
		require.Contains(t, p.Detail, "accept")
		require.Equal(t, http.StatusConflict, b.call(t, http.MethodPost, path+"/suspend", keyA, js, strings.NewReader(`{"reason":"x"}`), nil).StatusCode)

		var accepted affiliateJSON
		resp = b.call(t, http.MethodPost, "/v1/affiliates/accept", keyA, js,
			strings.NewReader(`{"token":"`+a.Invite.Token+`","name":"Ada L."}`), &accepted)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "pending", accepted.Status)
		require.Equal(t, "Ada L.", *accepted.Name)
		require.Nil(t, accepted.Invite)

		var approved affiliateJSON
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, path+"/approve", keyA, "", nil, &approved).StatusCode)
		require.Equal(t, "active", approved.Status)
		require.NotNil(t, approved.ApprovedAt)
		var again affiliateJSON
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, path+"/approve", keyA, "", nil, &again).StatusCode)
		require.Equal(t, approved, again, "approving an active affiliate changes nothing")

		var suspended affiliateJSON
		resp = b.call(t, http.MethodPost, path+"/suspend", keyA, js, strings.NewReader(`{"reason":"Cookie stuffing"}`), &suspended)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "suspended", suspended.Status)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, path+"/suspend", keyA, js, strings.NewReader(`{"reason":"Again"}`), &again).StatusCode)
		require.Equal(t, suspended, again, "suspending a suspended affiliate changes nothing")

		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, path+"/approve", keyA, "", nil, &again).StatusCode)
		require.Equal(t, "active", again.Status, "a suspended affiliate can be approved again")
		require.Equal(t, http.StatusConflict, b.call(t, http.MethodPost, path+"/invite", keyA, "", nil, nil).StatusCode,
			"only an invited affiliate is invited again")

		b.requireAudit(t, orgA, "affiliate.invited", a.ID)
		b.requireAudit(t, orgA, "affiliate.accepted", a.ID)
		b.requireAudit(t, orgA, "affiliate.suspended", a.ID)
		require.Equal(t, 2, b.org(orgA).Audits(t, "affiliate.approved", a.ID), "from pending, then from suspended; never for a no-op")
		b.requireAuditMetadata(t, orgA, "affiliate.suspended", a.ID, `{"reason": "Cookie stuffing"}`)
		// The email is sealed apart from the metadata; TestAuditLogSealsPersonalFields reads it back.
		b.requireAuditMetadata(t, orgA, "affiliate.invited", a.ID, `{"campaign_id": "`+c.ID.String()+`"}`)
	})

	t.Run("StoresOnlyTheTokenHash", func(t *testing.T) {
		a := b.invite(t, keyA, "hash-only@example.com")
		require.Empty(t, b.tablesContaining(t, a.Invite.Token))
		secret := strings.TrimPrefix(a.Invite.Token, "rk_inv_")
		require.Empty(t, b.tablesContaining(t, secret), "not even without its prefix")
		sum := sha256.Sum256([]byte(a.Invite.Token))
		ctx := context.Background()
		var n int
		require.NoError(t, b.db.TenantTx(ctx, orgA, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM affiliate_invites WHERE affiliate_id = $1 AND token_hash = $2`, a.ID, sum[:]).Scan(&n)
		}))
		require.Equal(t, 1, n, "the invite holds the token's SHA-256")
		require.NotEmpty(t, b.tablesContaining(t, a.ID.String()), "the search finds what is there")
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		archived := b.campaign(t, keyA, "Archived for invites")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/campaigns/"+archived.ID.String()+"/archive", keyA, "", nil, nil).StatusCode)
		foreign := b.campaign(t, keyB, "Globex only")
		cases := map[string]struct {
			contentType, body string
			status            int
			problem, field    string
		}{
			"unknown field":        {js, `{"email":"a@example.com","admin":true}`, 400, "invalid_json", ""},
			"wrong type":           {js, `{"email":7}`, 400, "invalid_json", ""},
			"bad UTF-8":            {js, "{\"email\":\"\xff@example.com\"}", 400, "invalid_json", ""},
			"not JSON":             {"text/plain", `email=a@example.com`, 415, "unsupported_media_type", ""},
			"oversize body":        {js, `{"email":"` + strings.Repeat("a", 5000) + `"}`, 413, "body_too_large", ""},
			"missing email":        {js, `{"name":"Ada"}`, 422, "validation_failed", "email"},
			"not an address":       {js, `{"email":"ada"}`, 422, "validation_failed", "email"},
			"display name":         {js, `{"email":"Ada <ada@example.com>"}`, 422, "validation_failed", "email"},
			"angle brackets":       {js, `{"email":"<ada@example.com>"}`, 422, "validation_failed", "email"},
			"surrounding space":    {js, `{"email":" ada@example.com"}`, 422, "validation_failed", "email"},
			"no domain":            {js, `{"email":"ada@"}`, 422, "validation_failed", "email"},
			"no local part":        {js, `{"email":"@example.com"}`, 422, "validation_failed", "email"},
			"two addresses":        {js, `{"email":"a@example.com, b@example.com"}`, 422, "validation_failed", "email"},
			"address too long":     {js, `{"email":"` + strings.Repeat("a", 64) + "@" + strings.Repeat("b", 260) + `.com"}`, 422, "validation_failed", "email"},
			"empty name":           {js, `{"email":"a@example.com","name":""}`, 422, "validation_failed", "name"},
			"name too long":        {js, `{"email":"a@example.com","name":"` + strings.Repeat("é", 201) + `"}`, 422, "validation_failed", "name"},
			"malformed campaign":   {js, `{"email":"a@example.com","campaign_id":"summer"}`, 422, "validation_failed", "campaign_id"},
			"unknown campaign":     {js, `{"email":"a@example.com","campaign_id":"` + uuid.NewString() + `"}`, 422, "validation_failed", "campaign_id"},
			"archived campaign":    {js, `{"email":"a@example.com","campaign_id":"` + archived.ID.String() + `"}`, 422, "validation_failed", "campaign_id"},
			"another org campaign": {js, `{"email":"a@example.com","campaign_id":"` + foreign.ID.String() + `"}`, 422, "validation_failed", "campaign_id"},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/affiliates", keyA, tc.contentType, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		var list affiliateListJSON
		b.call(t, http.MethodGet, "/v1/affiliates?limit=100", keyA, "", nil, &list)
		for _, a := range list.Data {
			require.NotEqual(t, "a@example.com", a.Email, "no refused request created an affiliate")
		}
	})

	t.Run("RefusesADuplicateEmail", func(t *testing.T) {
		b.invite(t, keyA, "twice@example.com")
		var p server.Problem
		resp := b.call(t, http.MethodPost, "/v1/affiliates", keyA, js, strings.NewReader(`{"email":"twice@EXAMPLE.com"}`), &p)
		require.Equal(t, http.StatusConflict, resp.StatusCode, "the domain's case does not make another address")
		require.Equal(t, "urn:rekomi:problem:conflict", p.Type)
		b.invite(t, keyB, "twice@example.com")
	})

	t.Run("RefusesBadUpdatesAndSuspensions", func(t *testing.T) {
		a := b.activeAffiliate(t, keyA, "updates@example.com")
		path := "/v1/affiliates/" + a.ID.String()
		for name, tc := range map[string]struct {
			method, path, body string
			status             int
			field              string
		}{
			"stripe id without acct_":   {http.MethodPatch, path, `{"stripe_account_id":"1A2b3C"}`, 422, "stripe_account_id"},
			"stripe id empty after":     {http.MethodPatch, path, `{"stripe_account_id":"acct_"}`, 422, "stripe_account_id"},
			"stripe id with symbols":    {http.MethodPatch, path, `{"stripe_account_id":"acct_12;drop"}`, 422, "stripe_account_id"},
			"stripe id of wrong type":   {http.MethodPatch, path, `{"stripe_account_id":12}`, 400, ""},
			"empty name":                {http.MethodPatch, path, `{"name":""}`, 422, "name"},
			"unknown field in patch":    {http.MethodPatch, path, `{"status":"active"}`, 400, ""},
			"suspension without reason": {http.MethodPost, path + "/suspend", `{}`, 422, "reason"},
			"empty reason":              {http.MethodPost, path + "/suspend", `{"reason":""}`, 422, "reason"},
			"reason too long":           {http.MethodPost, path + "/suspend", `{"reason":"` + strings.Repeat("r", 501) + `"}`, 422, "reason"},
			"reason of wrong type":      {http.MethodPost, path + "/suspend", `{"reason":true}`, 400, ""},
			"accept without token":      {http.MethodPost, "/v1/affiliates/accept", `{}`, 422, "token"},
			"accept with empty token":   {http.MethodPost, "/v1/affiliates/accept", `{"token":""}`, 422, "token"},
			"accept with unknown field": {http.MethodPost, "/v1/affiliates/accept", `{"token":"x","email":"a@b.c"}`, 400, ""},
		} {
			var p server.Problem
			resp := b.call(t, tc.method, tc.path, keyA, js, strings.NewReader(tc.body), &p)
			require.Equal(t, tc.status, resp.StatusCode, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		var got affiliateJSON
		b.call(t, http.MethodGet, path, keyA, "", nil, &got)
		require.Equal(t, a, got, "nothing changed")
		require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/affiliates?status=banned", keyA, "", nil, nil).StatusCode)

		var patched affiliateJSON
		resp := b.call(t, http.MethodPatch, path, keyA, js, strings.NewReader(`{"stripe_account_id":"acct_1A2b3C","name":"Updates"}`), &patched)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "acct_1A2b3C", *patched.StripeAccountID)
		require.Equal(t, "Updates", *patched.Name)
		b.requireAuditMetadata(t, orgA, "affiliate.updated", a.ID,
			`{"changed": ["name", "stripe_account_id"], "stripe_account_id": {"from": null, "to": "acct_…2b3C"}}`)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, path, keyA, js, strings.NewReader(`{"name":"Updates"}`), nil).StatusCode)
		require.Equal(t, 1, b.org(orgA).Audits(t, "affiliate.updated", a.ID), "an update that changes nothing is not audited")
		resp = b.call(t, http.MethodPatch, path, keyA, js, strings.NewReader(`{"stripe_account_id":null}`), &patched)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Nil(t, patched.StripeAccountID, "null clears")
		require.Equal(t, "Updates", *patched.Name, "absent keeps")
		require.Equal(t, 2, b.org(orgA).Audits(t, "affiliate.updated", a.ID))
	})

	t.Run("RefusesEveryUnusableTokenTheSameWay", func(t *testing.T) {
		used := b.invite(t, keyA, "used@example.com")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/accept", keyA, js,
			strings.NewReader(`{"token":"`+used.Invite.Token+`"}`), nil).StatusCode)
		expired := b.invite(t, keyA, "expired@example.com")
		b.adminExec(t, `UPDATE affiliate_invites SET expires_at = now() - interval '1 second' WHERE affiliate_id = $1`, expired.ID)
		foreign := b.invite(t, keyB, "foreign@example.com")

		var first server.Problem
		for i, tc := range []struct{ key, token string }{
			{keyA, "rk_inv_" + strings.Repeat("A", 43)},
			{keyA, "not-even-a-token"},
			{keyA, used.Invite.Token},
			{keyA, expired.Invite.Token},
			{keyA, foreign.Invite.Token},
		} {
			var p server.Problem
			resp := b.call(t, http.MethodPost, "/v1/affiliates/accept", tc.key, js, strings.NewReader(`{"token":"`+tc.token+`"}`), &p)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, "token %d", i)
			p.RequestID = ""
			if i == 0 {
				first = p
			}
			require.Equal(t, first, p, "the answer never says why a token was refused")
		}
		var got affiliateJSON
		b.call(t, http.MethodGet, "/v1/affiliates/"+foreign.ID.String(), keyB, "", nil, &got)
		require.Equal(t, "invited", got.Status, "another organization's token is untouched")
		b.call(t, http.MethodGet, "/v1/affiliates/"+expired.ID.String(), keyA, "", nil, &got)
		require.Equal(t, "invited", got.Status)
		require.Zero(t, b.org(orgB).Audits(t, "affiliate.accepted", foreign.ID))
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/accept", keyB, js,
			strings.NewReader(`{"token":"`+foreign.Invite.Token+`"}`), nil).StatusCode, "its own organization can use it")
	})

	t.Run("ReissuesAnInvite", func(t *testing.T) {
		c := b.campaign(t, keyA, "Reissued")
		var a affiliateJSON
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/affiliates", keyA, js,
			strings.NewReader(`{"email":"again@example.com","campaign_id":"`+c.ID.String()+`"}`), &a).StatusCode)
		var again affiliateJSON
		resp := b.call(t, http.MethodPost, "/v1/affiliates/"+a.ID.String()+"/invite", keyA, "", nil, &again)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NotEqual(t, a.Invite.Token, again.Invite.Token)
		require.Equal(t, c.ID, *again.Invite.CampaignID, "the new invite is for the same campaign")
		require.Empty(t, b.tablesContaining(t, again.Invite.Token))
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodPost, "/v1/affiliates/accept", keyA, js,
			strings.NewReader(`{"token":"`+a.Invite.Token+`"}`), nil).StatusCode, "the old invite is gone")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/accept", keyA, js,
			strings.NewReader(`{"token":"`+again.Invite.Token+`"}`), nil).StatusCode)
		require.Equal(t, 2, b.org(orgA).Audits(t, "affiliate.invited", a.ID))
		b.requireAudit(t, orgA, "affiliate.accepted", a.ID)
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		invited := b.invite(t, keyA, "private-invited@example.com")
		pending := b.invite(t, keyA, "private-pending@example.com")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/accept", keyA, js,
			strings.NewReader(`{"token":"`+pending.Invite.Token+`"}`), nil).StatusCode)
		for _, a := range []affiliateJSON{invited, pending} {
			path := "/v1/affiliates/" + a.ID.String()
			for _, req := range []struct{ method, path, body string }{
				{http.MethodGet, path, ""},
				{http.MethodPatch, path, `{"name":"mine"}`},
				{http.MethodPost, path + "/approve", ""},
				{http.MethodPost, path + "/suspend", `{"reason":"mine"}`},
				{http.MethodPost, path + "/invite", ""},
			} {
				var p server.Problem
				resp := b.call(t, req.method, req.path, keyB, js, strings.NewReader(req.body), &p)
				require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s %s", req.method, req.path)
				require.Equal(t, "urn:rekomi:problem:not_found", p.Type)
			}
		}
		var list affiliateListJSON
		b.call(t, http.MethodGet, "/v1/affiliates?limit=100", keyB, "", nil, &list)
		require.NotEmpty(t, list.Data)
		require.NotContains(t, list.ids(), invited.ID)
		require.NotContains(t, list.ids(), pending.ID)
		var got affiliateJSON
		b.call(t, http.MethodGet, "/v1/affiliates/"+pending.ID.String(), keyA, "", nil, &got)
		require.Equal(t, "pending", got.Status, "untouched")
		require.Nil(t, got.Name)
		require.Equal(t, 1, b.org(orgA).Audits(t, "affiliate.invited", invited.ID), "B's re-invite did nothing")
		require.Zero(t, b.org(orgB).Audits(t, "affiliate.invited", invited.ID))
	})

	t.Run("ReplaysAnIdempotentInvite", func(t *testing.T) {
		body := `{"email":"replay@example.com"}`
		first := b.post(t, "/v1/affiliates", keyA, "invite-replay", body)
		require.Equal(t, http.StatusCreated, first.status)
		second := b.post(t, "/v1/affiliates", keyA, "invite-replay", body)
		require.Equal(t, http.StatusCreated, second.status)
		require.Equal(t, first.body, second.body, "the stored answer, with the same token")
		require.Equal(t, "true", second.header.Get(server.IdempotentReplayedHeader))
		var a affiliateJSON
		require.NoError(t, json.Unmarshal([]byte(first.body), &a))
		ctx := context.Background()
		var affiliates, invites int
		require.NoError(t, b.db.TenantTx(ctx, orgA, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM affiliates WHERE email = 'replay@example.com'`).Scan(&affiliates); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT count(*) FROM affiliate_invites WHERE affiliate_id = $1`, a.ID).Scan(&invites)
		}))
		require.Equal(t, 1, affiliates)
		require.Equal(t, 1, invites)
		b.requireAudit(t, orgA, "affiliate.invited", a.ID)
		require.Empty(t, b.tablesContaining(t, a.Invite.Token),
			"no table holds the token in the clear, the sealed stored answer included")

		accept := fmt.Sprintf(`{"token":%q}`, a.Invite.Token)
		one := b.post(t, "/v1/affiliates/accept", keyA, "accept-replay", accept)
		two := b.post(t, "/v1/affiliates/accept", keyA, "accept-replay", accept)
		require.Equal(t, http.StatusOK, one.status)
		require.Equal(t, one.body, two.body, "a retried accept answers as the first did, not 404")
		b.requireAudit(t, orgA, "affiliate.accepted", a.ID)
	})

	t.Run("PaginatesAndFilters", func(t *testing.T) {
		_, key := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		one := b.invite(t, key, "one@example.com")
		two := b.invite(t, key, "two@example.com")
		three := b.invite(t, key, "three@example.com")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/accept", key, js,
			strings.NewReader(`{"token":"`+two.Invite.Token+`"}`), nil).StatusCode)
		var first, second, pending, invited affiliateListJSON
		b.call(t, http.MethodGet, "/v1/affiliates?limit=2", key, "", nil, &first)
		require.True(t, first.HasMore)
		require.Equal(t, []uuid.UUID{three.ID, two.ID}, first.ids())
		b.call(t, http.MethodGet, "/v1/affiliates?limit=2&starting_after="+two.ID.String(), key, "", nil, &second)
		require.False(t, second.HasMore)
		require.Equal(t, []uuid.UUID{one.ID}, second.ids())
		b.call(t, http.MethodGet, "/v1/affiliates?status=pending", key, "", nil, &pending)
		require.Equal(t, []uuid.UUID{two.ID}, pending.ids())
		b.call(t, http.MethodGet, "/v1/affiliates?status=invited", key, "", nil, &invited)
		require.Equal(t, []uuid.UUID{three.ID, one.ID}, invited.ids())
		for _, a := range invited.Data {
			require.Nil(t, a.Invite, "a list never shows a token")
		}
	})

	t.Run("CancelledOrganizationReadsButCannotWrite", func(t *testing.T) {
		org, key := b.seedOrg(t, "hooli", server.ScopeRead, server.ScopeWrite)
		invited := b.invite(t, key, "before@example.com")
		active := b.activeAffiliate(t, key, "active@example.com")
		b.cancelOrg(t, org)
		for _, req := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/affiliates", `{"email":"after@example.com"}`},
			{http.MethodPost, "/v1/affiliates/accept", `{"token":"` + invited.Invite.Token + `"}`},
			{http.MethodPost, "/v1/affiliates/" + invited.ID.String() + "/invite", ""},
			{http.MethodPatch, "/v1/affiliates/" + active.ID.String(), `{"name":"Renamed"}`},
			{http.MethodPost, "/v1/affiliates/" + active.ID.String() + "/suspend", `{"reason":"x"}`},
			{http.MethodPost, "/v1/affiliates/" + active.ID.String() + "/approve", ""},
		} {
			var p server.Problem
			resp := b.call(t, req.method, req.path, key, js, strings.NewReader(req.body), &p)
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", req.method, req.path)
			require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		}
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/affiliates/"+invited.ID.String(), key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/affiliates", key, "", nil, nil).StatusCode)
	})

	t.Run("AnswersFitTheOpenAPIDocument", func(t *testing.T) {
		var v any
		resp := b.call(t, http.MethodPost, "/v1/affiliates", keyA, js, strings.NewReader(`{"email":"schema@example.com"}`), &v)
		requireFitsOpenAPI(t, "post", "/v1/affiliates", resp, v)
		id := v.(map[string]any)["id"].(string)
		path := "/v1/affiliates/" + id
		v = nil
		resp = b.call(t, http.MethodPost, path+"/invite", keyA, "", nil, &v)
		requireFitsOpenAPI(t, "post", "/v1/affiliates/{id}/invite", resp, v)
		token := v.(map[string]any)["invite"].(map[string]any)["token"].(string)
		for _, req := range []struct{ method, path, documented, body string }{
			{http.MethodPost, path + "/approve", "/v1/affiliates/{id}/approve", ""},
			{http.MethodPost, "/v1/affiliates/accept", "/v1/affiliates/accept", `{"token":"` + token + `"}`},
			{http.MethodPost, "/v1/affiliates/accept", "/v1/affiliates/accept", `{"token":"` + token + `"}`},
			{http.MethodPost, path + "/approve", "/v1/affiliates/{id}/approve", ""},
			{http.MethodPost, path + "/suspend", "/v1/affiliates/{id}/suspend", `{"reason":"schema"}`},
			{http.MethodPatch, path, "/v1/affiliates/{id}", `{"stripe_account_id":"acct_123"}`},
			{http.MethodPatch, path, "/v1/affiliates/{id}", `{"stripe_account_id":"123"}`},
			{http.MethodGet, path, "/v1/affiliates/{id}", ""},
			{http.MethodGet, "/v1/affiliates?status=suspended", "/v1/affiliates", ""},
			{http.MethodGet, "/v1/affiliates?status=gone", "/v1/affiliates", ""},
			{http.MethodPost, "/v1/affiliates", "/v1/affiliates", `{"email":"schema@example.com"}`},
		} {
			v = nil
			resp := b.call(t, req.method, req.path, keyA, js, strings.NewReader(req.body), &v)
			requireFitsOpenAPI(t, strings.ToLower(req.method), req.documented, resp, v)
		}
	})
}

// requireFitsOpenAPI checks that the answer to a request for the documented
// path fits the document's schema for its status.
func requireFitsOpenAPI(t *testing.T, method, documented string, resp *http.Response, body any) {
	t.Helper()
	_, doc := loadOpenAPI(t)
	mediaType := resp.Header.Get("Content-Type")
	schema := responseSchema(t, doc, method, documented, strconv.Itoa(resp.StatusCode), mediaType)
	require.Empty(t, schemaMismatches(t, doc, schema, body, method+" "+documented), "the answer does not fit the schema")
}
