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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
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
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server"
)

// adminBrowser is a browser of the admin pages: it keeps cookies, does not
// follow redirects, and comes from its own address, which the server
// believes because the test's loopback is a trusted proxy.
type adminBrowser struct {
	b      *bundle
	jar    *cookiejar.Jar
	client *http.Client
	ip     string
}

// adminConfig serves plain http on localhost, where cookies are not
// Secure, and trusts the loopback's X-Forwarded-For.
func adminConfig(c *config.Config) {
	c.MaxBodyBytes = 4096
	c.PublicBaseURL = "http://localhost"
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

func (b *bundle) browser(t *testing.T, ip string) *adminBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &adminBrowser{b: b, jar: jar, ip: ip, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer with its body read.
type page struct {
	status  int
	header  http.Header
	cookies []*http.Cookie
	body    string
}

func (a *adminBrowser) do(t *testing.T, method, path string, form url.Values, header ...string) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.b.base+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Forwarded-For", a.ip)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{status: resp.StatusCode, header: resp.Header, cookies: resp.Cookies(), body: string(raw)}
}

func (a *adminBrowser) get(t *testing.T, path string) page {
	t.Helper()
	return a.do(t, http.MethodGet, path, nil)
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfOf is the CSRF token the page's forms carry.
func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no CSRF token in the page:\n%s", p.body)
	return html.UnescapeString(m[1])
}

// signIn submits the sign-in form with token.
func (a *adminBrowser) signIn(t *testing.T, token string) page {
	t.Helper()
	form := a.get(t, "/admin/sign-in")
	require.Equal(t, http.StatusOK, form.status)
	return a.do(t, http.MethodPost, "/admin/sign-in", url.Values{"csrf_token": {csrfOf(t, form)}, "token": {token}})
}

// mustSignIn signs in with token and returns the overview's CSRF token.
func (a *adminBrowser) mustSignIn(t *testing.T, token string) string {
	t.Helper()
	p := a.signIn(t, token)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/admin", p.header.Get("Location"))
	overview := a.get(t, "/admin")
	require.Equal(t, http.StatusOK, overview.status)
	return csrfOf(t, overview)
}

// revoke posts the overview's Revoke form for id with the given token.
func (a *adminBrowser) revoke(t *testing.T, id uuid.UUID, token string, header ...string) page {
	t.Helper()
	return a.do(t, http.MethodPost, "/admin/api-keys/"+id.String()+"/revoke", url.Values{"csrf_token": {token}}, header...)
}

// sessionCookie is the browser's session cookie, or nil.
func (a *adminBrowser) sessionCookie(t *testing.T) *http.Cookie {
	t.Helper()
	u, err := url.Parse(a.b.base + "/admin")
	require.NoError(t, err)
	for _, c := range a.jar.Cookies(u) {
		if c.Name == "rekomi_admin" {
			return c
		}
	}
	return nil
}

func (a *adminBrowser) setSessionCookie(t *testing.T, value string) {
	t.Helper()
	u, err := url.Parse(a.b.base + "/admin")
	require.NoError(t, err)
	a.jar.SetCookies(u, []*http.Cookie{{Name: "rekomi_admin", Value: value, Path: "/admin"}})
}

func requireSignInRedirect(t *testing.T, p page) {
	t.Helper()
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/admin/sign-in", p.header.Get("Location"))
}

// addKey gives org one more API key and returns its secret and id.
func (b *bundle) addKey(t *testing.T, org uuid.UUID, scopes ...string) (string, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	key := b.seedKey(t, admin, org, scopes...)
	return key, b.keyID(t, org, key)
}

// keyID is the id of org's API key with secret key.
func (b *bundle) keyID(t *testing.T, org uuid.UUID, key string) uuid.UUID {
	t.Helper()
	prefix, err := apikey.Parse(key)
	require.NoError(t, err)
	ctx := context.Background()
	var id uuid.UUID
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id FROM api_keys WHERE org_id = $1 AND prefix = $2`, org, prefix).Scan(&id)
	}))
	return id
}

// setScopes changes the scopes of org's key id as the admin can.
func (b *bundle) setScopes(t *testing.T, org, id uuid.UUID, scopes ...string) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, `UPDATE api_keys SET scopes = $3 WHERE org_id = $1 AND id = $2`, org, id, scopes)
	require.NoError(t, err)
}

func (b *bundle) keyWorks(t *testing.T, key string) bool {
	t.Helper()
	return b.call(t, http.MethodGet, "/v1/api-keys", key, "", nil, nil).StatusCode == http.StatusOK
}

// seedAuditEntries appends n entries with action to org's log.
func (b *bundle) seedAuditEntries(t *testing.T, org uuid.UUID, action string, n int) {
	t.Helper()
	for i := range n {
		b.appendAudit(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "seed", Action: action,
			TargetType: "thing", TargetID: action + "-" + strconv.Itoa(i)})
	}
}

var seqCell = regexp.MustCompile(`<td class="num">(\d+)</td>`)

// resultSeqs are the seqs of the audit log page's rows, in order.
func resultSeqs(t *testing.T, p page) []int64 {
	t.Helper()
	var out []int64
	for _, m := range seqCell.FindAllStringSubmatch(p.body, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

var promoCodeRow = regexp.MustCompile(`<tr id="promo-code-([0-9a-f-]{36})">`)

// promoCodeRows are the ids of the promo codes page's rows, in order.
func promoCodeRows(t *testing.T, p page) []uuid.UUID {
	t.Helper()
	var out []uuid.UUID
	for _, m := range promoCodeRow.FindAllStringSubmatch(p.body, -1) {
		out = append(out, uuid.MustParse(m[1]))
	}
	return out
}

var nextLink = regexp.MustCompile(`<a href="([^"]+)" id="next-page">`)

func nextPageOf(p page) string {
	m := nextLink.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, adminConfig)
	const refused = "That token cannot sign in. Use an API key of your organization with the read and write scopes."

	t.Run("SendsSignedOutBrowsersToSignIn", func(t *testing.T) {
		a := b.browser(t, "192.0.2.1")
		for _, path := range []string{"/admin", "/admin/promo-codes", "/admin/audit-log", "/admin/audit-log/export.csv"} {
			requireSignInRedirect(t, a.get(t, path))
		}
		requireSignInRedirect(t, a.revoke(t, uuid.New(), "x"))
		form := a.get(t, "/admin/sign-in")
		require.Equal(t, http.StatusOK, form.status)
		require.Equal(t, "text/html; charset=utf-8", form.header.Get("Content-Type"))
		require.Contains(t, form.body, `<form method="post" action="/admin/sign-in"`)
		require.NotContains(t, form.body, "<script", "the pages run no JavaScript")
	})

	t.Run("SignsInWithAWriteKey", func(t *testing.T) {
		_, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.2")
		p := a.signIn(t, key)
		require.Equal(t, http.StatusSeeOther, p.status, p.body)
		require.Equal(t, "/admin", p.header.Get("Location"))
		var sess *http.Cookie
		for _, c := range p.cookies {
			if c.Name == "rekomi_admin" {
				sess = c
			}
		}
		require.NotNil(t, sess)
		require.True(t, sess.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, sess.SameSite)
		require.Equal(t, "/admin", sess.Path)
		require.Equal(t, 8*60*60, sess.MaxAge)
		require.False(t, sess.Secure, "plain http on localhost")
		require.NotContains(t, sess.Value, key[len(key)-8:], "the cookie does not carry the key")

		overview := a.get(t, "/admin")
		require.Equal(t, http.StatusOK, overview.status)
		for _, want := range []string{`<h1 id="org-name">acme</h1>`, `<dd id="org-plan">pro</dd>`, `<dd id="org-status">active</dd>`,
			"Campaigns", "Affiliates", "Links", "Payouts", "Commissions approved", "(this session)"} {
			require.Contains(t, overview.body, want)
		}
	})

	t.Run("RefusesEveryOtherTokenTheSameWay", func(t *testing.T) {
		org, key := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		readOnly, _ := b.addKey(t, org, server.ScopeRead)
		revoked, revokedID := b.addKey(t, org, server.ScopeRead, server.ScopeWrite)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodDelete, "/v1/api-keys/"+revokedID.String(), key, "", nil, nil).StatusCode)
		unknown, _, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		wrong := key[:len(key)-4] + "aaaa"
		if wrong == key {
			wrong = key[:len(key)-4] + "bbbb"
		}
		a := b.browser(t, "192.0.2.3")
		writeOnly, _ := b.addKey(t, org, server.ScopeWrite)
		for name, token := range map[string]string{"empty": "", "garbage": "letmein", "unknown": unknown,
			"wrong secret": wrong, "read-only": readOnly, "write-only": writeOnly, "revoked": revoked} {
			p := a.signIn(t, token)
			require.Equal(t, http.StatusUnauthorized, p.status, name)
			require.Contains(t, p.body, refused, name)
			require.Nil(t, a.sessionCookie(t), name)
		}
		requireSignInRedirect(t, a.get(t, "/admin"))
	})

	t.Run("SetsSecurityHeadersOnEveryPage", func(t *testing.T) {
		_, key := b.seedOrg(t, "hooli", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.4")
		token := a.mustSignIn(t, key)
		for name, p := range map[string]page{
			"sign-in":        a.get(t, "/admin/sign-in"),
			"style sheet":    a.get(t, "/admin/static/admin.css"),
			"overview":       a.get(t, "/admin"),
			"promo codes":    a.get(t, "/admin/promo-codes"),
			"bad page":       a.get(t, "/admin/promo-codes?starting_after=x"),
			"audit log":      a.get(t, "/admin/audit-log"),
			"bad query":      a.get(t, "/admin/audit-log?limit=0"),
			"export":         a.get(t, "/admin/audit-log/export.csv"),
			"refused form":   a.revoke(t, uuid.New(), "wrong"),
			"unknown key":    a.revoke(t, uuid.New(), token),
			"signed out":     b.browser(t, "192.0.2.40").get(t, "/admin"),
			"refused signin": b.browser(t, "192.0.2.41").do(t, http.MethodPost, "/admin/sign-in", url.Values{"token": {key}}),
		} {
			csp := p.header.Get("Content-Security-Policy")
			for _, directive := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'",
				"frame-ancestors 'none'", "base-uri 'none'"} {
				require.Contains(t, csp, directive, name)
			}
			require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"), name)
			require.Equal(t, "no-referrer", p.header.Get("Referrer-Policy"), name)
			require.Equal(t, "no-store", p.header.Get("Cache-Control"), name)
		}
	})

	t.Run("RefusesFormsWithoutTheirCSRFToken", func(t *testing.T) {
		org, key := b.seedOrg(t, "umbrella", server.ScopeRead, server.ScopeWrite)
		victim, victimID := b.addKey(t, org, server.ScopeRead)
		a := b.browser(t, "192.0.2.5")
		token := a.mustSignIn(t, key)
		other := b.browser(t, "192.0.2.6")
		otherToken := other.mustSignIn(t, key)
		require.NotEqual(t, token, otherToken, "each session has its own token")
		host := strings.TrimPrefix(b.base, "http://")
		for name, p := range map[string]page{
			"no token":            a.revoke(t, victimID, ""),
			"wrong token":         a.revoke(t, victimID, strings.Repeat("A", len(token))),
			"another session's":   a.revoke(t, victimID, otherToken),
			"cross-site origin":   a.revoke(t, victimID, token, "Origin", "http://evil.example"),
			"null origin":         a.revoke(t, victimID, token, "Origin", "null"),
			"null cross-site":     a.revoke(t, victimID, token, "Origin", "null", "Sec-Fetch-Site", "cross-site"),
			"https origin needed": a.revoke(t, victimID, token, "Origin", "ftp://"+host),
			"cross-site fetch":    a.revoke(t, victimID, token, "Sec-Fetch-Site", "cross-site"),
			"same-site fetch":     a.revoke(t, victimID, token, "Sec-Fetch-Site", "same-site"),
		} {
			require.Equal(t, http.StatusForbidden, p.status, name)
			require.Contains(t, p.body, "Request refused", name)
		}
		require.True(t, b.keyWorks(t, victim), "nothing changed")
		require.Zero(t, b.countActions(t, org, "admin.override"))

		p := a.revoke(t, victimID, token, "Origin", "null", "Sec-Fetch-Site", "same-origin")
		require.Equal(t, http.StatusSeeOther, p.status, "a no-referrer page's own form: %s", p.body)
		require.False(t, b.keyWorks(t, victim))
		victim, victimID = b.addKey(t, org, server.ScopeRead)
		p = a.revoke(t, victimID, token, "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin")
		require.Equal(t, http.StatusSeeOther, p.status, p.body)
		require.False(t, b.keyWorks(t, victim))
	})

	t.Run("RevokeIsAuditedOnceAsAnAdminOverride", func(t *testing.T) {
		org, key := b.seedOrg(t, "wayne", server.ScopeRead, server.ScopeWrite)
		sessionKeyID := b.keyID(t, org, key)
		victim, victimID := b.addKey(t, org, server.ScopeRead)
		a := b.browser(t, "192.0.2.7")
		token := a.mustSignIn(t, key)
		p := a.revoke(t, victimID, token)
		require.Equal(t, http.StatusSeeOther, p.status, p.body)
		require.Equal(t, "/admin", p.header.Get("Location"))
		require.False(t, b.keyWorks(t, victim), "the revoked key no longer authenticates")
		require.Equal(t, http.StatusSeeOther, a.revoke(t, victimID, token).status, "revoking again changes nothing")
		b.requireAudit(t, org, "admin.override", victimID)
		require.Equal(t, 1, b.countActions(t, org, "admin.override"))

		ctx := context.Background()
		var actorType, actorID, operation string
		require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT actor_type, actor_id, metadata->>'operation' FROM audit_log
				WHERE org_id = $1 AND action = 'admin.override'`, org).Scan(&actorType, &actorID, &operation)
		}))
		ip := b.openedIP(t, org, "admin.override")
		require.Equal(t, audit.ActorAdmin, actorType)
		require.Equal(t, sessionKeyID.String(), actorID)
		require.Equal(t, "api_key.revoke", operation)
		require.Equal(t, "192.0.2.7", ip)

		overview := a.get(t, "/admin")
		require.Contains(t, overview.body, "admin.override", "the overview lists the entry")
		require.NotContains(t, overview.body, `id="revoke-`+victimID.String()+`"`, "a revoked key has no Revoke button")
	})

	t.Run("RevokingTheSessionKeyEndsTheSession", func(t *testing.T) {
		org, key := b.seedOrg(t, "stark", server.ScopeRead, server.ScopeWrite)
		second, secondID := b.addKey(t, org, server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.8")
		a.mustSignIn(t, second)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodDelete, "/v1/api-keys/"+secondID.String(), key, "", nil, nil).StatusCode)
		requireSignInRedirect(t, a.get(t, "/admin"))

		c := b.browser(t, "192.0.2.9")
		token := c.mustSignIn(t, key)
		require.Equal(t, http.StatusSeeOther, c.revoke(t, b.keyID(t, org, key), token).status)
		requireSignInRedirect(t, c.get(t, "/admin"))
	})

	t.Run("ReadingNeedsTheReadScope", func(t *testing.T) {
		org, key := b.seedOrg(t, "nakatomi", server.ScopeRead, server.ScopeWrite)
		b.seedAuditEntries(t, org, "nakatomi.vault", 2)
		p := b.org(org).Partner(t, "")
		b.org(org).PromoCode(t, p.Affiliate, p.Campaign, "nakatomi-vault")
		a := b.browser(t, "192.0.2.18")
		a.mustSignIn(t, key)
		b.setScopes(t, org, b.keyID(t, org, key), server.ScopeWrite)
		for _, path := range []string{"/admin", "/admin/promo-codes", "/admin/audit-log", "/admin/audit-log/export.csv"} {
			p := a.get(t, path)
			requireSignInRedirect(t, p)
			require.NotContains(t, p.body, "nakatomi.vault", path)
		}
		require.Nil(t, a.sessionCookie(t), "the session ended")
	})

	t.Run("RefusesATamperedSession", func(t *testing.T) {
		_, key := b.seedOrg(t, "tyrell", server.ScopeRead, server.ScopeWrite)
		_, otherKey := b.seedOrg(t, "cyberdyne", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.10")
		a.mustSignIn(t, key)
		good := a.sessionCookie(t).Value
		payload, mac, ok := strings.Cut(good, ".")
		require.True(t, ok)
		flip := func(s string, i int) string {
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}
		o := b.browser(t, "192.0.2.11")
		o.mustSignIn(t, otherKey)
		otherPayload, _, _ := strings.Cut(o.sessionCookie(t).Value, ".")
		raw, err := base64.RawURLEncoding.DecodeString(payload)
		require.NoError(t, err)
		later := bytes.Clone(raw)
		binary.BigEndian.PutUint64(later[len(later)-8:], uint64(time.Now().Add(1000*time.Hour).Unix()))
		longer := base64.RawURLEncoding.EncodeToString(later)
		for name, value := range map[string]string{
			"payload byte":       flip(payload, len(payload)/2),
			"MAC byte":           flip(mac, 3),
			"another org's body": otherPayload + "." + mac,
			"no MAC":             payload,
			"later expiry":       longer + "." + mac,
			"empty":              "",
			"not base64":         "!!!." + mac,
			"unsigned JSON-ish":  `{org:x}`,
		} {
			a.setSessionCookie(t, value)
			p := a.get(t, "/admin")
			require.Equal(t, http.StatusSeeOther, p.status, name)
			require.Equal(t, "/admin/sign-in", p.header.Get("Location"), name)
			a.setSessionCookie(t, value)
			require.Equal(t, http.StatusSeeOther, a.revoke(t, uuid.New(), "x").status, name)
		}
		a.setSessionCookie(t, good)
		require.Equal(t, http.StatusOK, a.get(t, "/admin").status, "the untouched cookie still works")
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		orgA, keyA := b.seedOrg(t, "soylent", server.ScopeRead, server.ScopeWrite)
		orgB, keyB := b.seedOrg(t, "oscorp", server.ScopeRead, server.ScopeWrite)
		b.seedAuditEntries(t, orgB, "oscorp.secret_thing", 3)
		idB := b.keyID(t, orgB, keyB)
		partnerA, partnerB := b.org(orgA).Partner(t, ""), b.org(orgB).Partner(t, "")
		springA := b.org(orgA).PromoCode(t, partnerA.Affiliate, partnerA.Campaign, "SPRING")
		springB := b.org(orgB).PromoCode(t, partnerB.Affiliate, partnerB.Campaign, "spring")
		secretB := b.org(orgB).PromoCode(t, partnerB.Affiliate, partnerB.Campaign, "oscorp-secret-code")
		a := b.browser(t, "192.0.2.12")
		token := a.mustSignIn(t, keyA)

		p := a.revoke(t, idB, token)
		require.Equal(t, http.StatusNotFound, p.status)
		require.True(t, b.keyWorks(t, keyB), "org B's key is untouched")
		require.Zero(t, b.countActions(t, orgA, "admin.override"))
		require.Zero(t, b.countActions(t, orgB, "admin.override"))

		for _, path := range []string{"/admin", "/admin/promo-codes", "/admin/promo-codes?starting_after=" + secretB.String(),
			"/admin/audit-log", "/admin/audit-log?q=secret_thing", "/admin/audit-log?action=oscorp.secret_thing", "/admin/audit-log/export.csv"} {
			p := a.get(t, path)
			require.Equal(t, http.StatusOK, p.status, path)
			require.NotContains(t, p.body, "secret_thing-", path)
			require.NotContains(t, p.body, "<td>oscorp.secret_thing</td>", path)
			require.NotContains(t, p.body, idB.String(), path)
			for _, id := range []uuid.UUID{springB, secretB, partnerB.Affiliate, partnerB.Campaign} {
				require.NotContains(t, p.body, id.String(), path)
			}
			require.NotContains(t, p.body, "oscorp-secret-code", path)
			require.NotContains(t, p.body, partnerB.Email, path)
		}
		require.Equal(t, []uuid.UUID{springA}, promoCodeRows(t, a.get(t, "/admin/promo-codes")), "A's SPRING alone")
		require.Empty(t, resultSeqs(t, a.get(t, "/admin/audit-log?action=oscorp.secret_thing")))
	})

	t.Run("SearchesAndPagesTheAuditLog", func(t *testing.T) {
		org, key := b.seedOrg(t, "massive", server.ScopeRead, server.ScopeWrite)
		b.seedAuditEntries(t, org, "thing.created", 30)
		b.seedAuditEntries(t, org, "thing.updated", 5)
		a := b.browser(t, "192.0.2.13")
		a.mustSignIn(t, key)

		first := a.get(t, "/admin/audit-log?actor_type=&actor_id=&action=thing.created&target_type=&target_id=&occurred_after=&occurred_before=&q=")
		require.Equal(t, http.StatusOK, first.status, first.body)
		seqsA := resultSeqs(t, first)
		require.Len(t, seqsA, 25)
		require.Equal(t, int64(30), seqsA[0], "newest first")
		require.Contains(t, first.body, `value="thing.created"`, "the form keeps the search")
		next := nextPageOf(first)
		require.Equal(t, "/admin/audit-log?action=thing.created&starting_after=6", next)
		require.Contains(t, first.body, `href="/admin/audit-log/export.csv?action=thing.created"`)

		second := a.get(t, next)
		require.Equal(t, []int64{5, 4, 3, 2, 1}, resultSeqs(t, second))
		require.Empty(t, nextPageOf(second), "the last page has no next page")
		require.Equal(t, 5, strings.Count(second.body, "<td>thing.created</td>"))

		require.Len(t, resultSeqs(t, a.get(t, "/admin/audit-log?q=updated")), 5)
		require.Len(t, resultSeqs(t, a.get(t, "/admin/audit-log?action=thing.created&limit=100")), 30)

		export := a.get(t, "/admin/audit-log/export.csv?action=thing.created")
		require.Equal(t, http.StatusOK, export.status)
		require.Equal(t, "text/csv; charset=utf-8", export.header.Get("Content-Type"))
		rows, err := csv.NewReader(strings.NewReader(export.body)).ReadAll()
		require.NoError(t, err)
		require.Len(t, rows, 31, "a header and every match")

		bad := a.get(t, "/admin/audit-log?actor_type=robot&starting_after=x&color=red")
		require.Equal(t, http.StatusBadRequest, bad.status)
		for _, field := range []string{"actor_type", "starting_after", "color"} {
			require.Contains(t, bad.body, "<code>"+field+"</code>")
		}
	})

	t.Run("ListsAndPagesPromoCodes", func(t *testing.T) {
		org, key := b.seedOrg(t, "monsters", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.19")
		a.mustSignIn(t, key)
		empty := a.get(t, "/admin/promo-codes")
		require.Equal(t, http.StatusOK, empty.status, empty.body)
		require.Contains(t, empty.body, "No promo codes yet.")
		require.Contains(t, empty.body, `<a href="/admin/promo-codes" id="nav-promo-codes">Promo codes</a>`, "the nav leads here")

		o := b.org(org)
		p := o.Partner(t, "")
		o.Exec(t, nil, `UPDATE affiliates SET name = 'Ada Lovelace' WHERE org_id = $1 AND id = $2`, org, p.Affiliate)
		var campaign string
		o.Exec(t, []any{&campaign}, `SELECT name FROM campaigns WHERE id = $1`, p.Campaign)
		other := o.Partner(t, "")
		var codes []uuid.UUID // oldest first
		for i := range 30 {
			codes = append(codes, o.PromoCode(t, p.Affiliate, p.Campaign, "CODE-"+strconv.Itoa(i)))
		}
		last := o.PromoCode(t, other.Affiliate, other.Campaign, "Mixed_Case-1")
		codes = append(codes, last)
		o.Exec(t, nil, `UPDATE promo_codes SET disabled_at = '2026-03-01T10:00:00Z' WHERE org_id = $1 AND id = $2`, org, codes[0])

		first := a.get(t, "/admin/promo-codes")
		require.Equal(t, http.StatusOK, first.status, first.body)
		rows := promoCodeRows(t, first)
		require.Len(t, rows, 25)
		require.Equal(t, last, rows[0], "newest first")
		require.Equal(t, codes[6], rows[24])
		row := regexp.MustCompile(`(?s)<tr id="promo-code-` + last.String() + `">(.*?)</tr>`).FindStringSubmatch(first.body)
		require.NotNil(t, row)
		for _, cell := range []string{"<td><code>Mixed_Case-1</code></td>", "<td>" + other.Email + "</td>", "<td>active</td>"} {
			require.Contains(t, row[1], cell, "the code as written, its affiliate's email, its status")
		}
		require.Contains(t, first.body, "<td>Ada Lovelace &lt;"+p.Email+"&gt;</td>", "an affiliate's name and email")
		require.Contains(t, first.body, "<td>"+campaign+"</td>")
		next := nextPageOf(first)
		require.Equal(t, "/admin/promo-codes?starting_after="+codes[6].String(), next)

		second := a.get(t, next)
		require.Equal(t, []uuid.UUID{codes[5], codes[4], codes[3], codes[2], codes[1], codes[0]}, promoCodeRows(t, second))
		require.Empty(t, nextPageOf(second), "the last page has no next page")
		require.Contains(t, second.body, "<td>disabled 2026-03-01 10:00:00Z</td>")
		require.Len(t, promoCodeRows(t, a.get(t, "/admin/promo-codes?limit=100")), 31)
		require.Equal(t, "/admin/promo-codes?limit=10&starting_after="+codes[21].String(), nextPageOf(a.get(t, "/admin/promo-codes?limit=10")))

		bad := a.get(t, "/admin/promo-codes?limit=0&starting_after=x&code=SPRING")
		require.Equal(t, http.StatusBadRequest, bad.status)
		for _, field := range []string{"limit", "starting_after", "code"} {
			require.Contains(t, bad.body, "<code>"+field+"</code>")
		}
		require.Empty(t, promoCodeRows(t, bad))
	})

	t.Run("SignOutEndsTheBrowsersSession", func(t *testing.T) {
		_, key := b.seedOrg(t, "vandelay", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.14")
		token := a.mustSignIn(t, key)
		require.Equal(t, http.StatusForbidden, a.do(t, http.MethodPost, "/admin/sign-out", url.Values{}).status, "sign-out needs its token too")
		requireSignInRedirect(t, a.do(t, http.MethodPost, "/admin/sign-out", url.Values{"csrf_token": {token}}))
		require.Nil(t, a.sessionCookie(t))
		requireSignInRedirect(t, a.get(t, "/admin"))
	})

	t.Run("SignInFormIsTiedToItsCookie", func(t *testing.T) {
		_, key := b.seedOrg(t, "gringotts", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.15")
		require.Equal(t, http.StatusForbidden, a.do(t, http.MethodPost, "/admin/sign-in", url.Values{"token": {key}}).status)
		stranger := b.browser(t, "192.0.2.16")
		foreign := csrfOf(t, stranger.get(t, "/admin/sign-in"))
		a.get(t, "/admin/sign-in")
		p := a.do(t, http.MethodPost, "/admin/sign-in", url.Values{"token": {key}, "csrf_token": {foreign}})
		require.Equal(t, http.StatusForbidden, p.status, "a token from another browser's form")
		form := a.get(t, "/admin/sign-in")
		p = a.do(t, http.MethodPost, "/admin/sign-in", url.Values{"token": {key}, "csrf_token": {csrfOf(t, form)}},
			"Origin", "https://evil.example")
		require.Equal(t, http.StatusForbidden, p.status, "a form posted from another site")
		require.Nil(t, a.sessionCookie(t))
	})

	t.Run("CancelledOrganizationCannotRevoke", func(t *testing.T) {
		org, key := b.seedOrg(t, "pied-piper", server.ScopeRead, server.ScopeWrite)
		victim, victimID := b.addKey(t, org, server.ScopeRead)
		b.cancelOrg(t, org)
		a := b.browser(t, "192.0.2.17")
		token := a.mustSignIn(t, key)
		require.Contains(t, a.get(t, "/admin").body, `<dd id="org-status">cancelled, cancelled `)
		p := a.revoke(t, victimID, token)
		require.Equal(t, http.StatusForbidden, p.status)
		require.Contains(t, p.body, "The organization is cancelled")
		require.True(t, b.keyWorks(t, victim))
		require.Zero(t, b.countActions(t, org, "admin.override"))
	})
}

// replica starts another app of b's Region on its database, as a second
// pod is, and returns its base URL; it stops with the test.
func (b *bundle) replica(t *testing.T, opts []server.Option, mutate ...func(*config.Config)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return b.serveOn(t, ln, opts, mutate...)
}

// serveOn serves another app of b's Region on ln and returns its base URL
// (http://, whatever ln is); it stops with the test.
func (b *bundle) serveOn(t *testing.T, ln net.Listener, opts []server.Option, mutate ...func(*config.Config)) string {
	t.Helper()
	cfg := config.Defaults()
	cfg.Region, cfg.Location = "eu", "eu"
	for _, m := range mutate {
		m(&cfg)
	}
	s := server.New(cfg, b.db, slog.New(slog.NewJSONHandler(io.Discard, nil)), opts...)
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, metricsLn) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

// onReplica is a browser of the replica at base holding a's session cookie.
func (a *adminBrowser) onReplica(t *testing.T, base string) *adminBrowser {
	t.Helper()
	other := &adminBrowser{b: &bundle{base: base}, ip: a.ip}
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	other.jar = jar
	other.client = &http.Client{Jar: jar, CheckRedirect: a.client.CheckRedirect}
	if c := a.sessionCookie(t); c != nil {
		other.setSessionCookie(t, c.Value)
	}
	return other
}

// auditOf is the actor type, actor id, IP, target type and target id of
// org's one entry with action.
func (b *bundle) auditOf(t *testing.T, org uuid.UUID, action string) []string {
	t.Helper()
	ctx := context.Background()
	out := make([]string, 5)
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT actor_type, actor_id, target_type, target_id FROM audit_log
			WHERE org_id = $1 AND action = $2`, org, action).Scan(&out[0], &out[1], &out[3], &out[4])
	}))
	out[2] = b.openedIP(t, org, action)
	return out
}

func TestAdminSessionsAreServerSide(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	opts := []server.Option{server.WithKeyRing(ring)}
	b := setupWith(t, srv, opts, adminConfig)
	b.ring = ring
	replica := b.replica(t, opts, adminConfig)

	t.Run("SignOutEndsTheSessionOnEveryReplica", func(t *testing.T) {
		_, key := b.seedOrg(t, "initrode", server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.30")
		token := a.mustSignIn(t, key)
		copied := a.sessionCookie(t).Value
		stolen := a.onReplica(t, replica)
		require.Equal(t, http.StatusOK, stolen.get(t, "/admin").status, "replicas share sessions")
		requireSignInRedirect(t, a.do(t, http.MethodPost, "/admin/sign-out", url.Values{"csrf_token": {token}}))
		for _, browser := range []*adminBrowser{stolen, a} {
			browser.setSessionCookie(t, copied)
			requireSignInRedirect(t, browser.get(t, "/admin"))
			browser.setSessionCookie(t, copied)
			require.Equal(t, http.StatusSeeOther, browser.revoke(t, uuid.New(), token).status)
		}
	})

	t.Run("RevokingTheKeyEndsItsSessionsOnEveryReplica", func(t *testing.T) {
		org, key := b.seedOrg(t, "globodyne", server.ScopeRead, server.ScopeWrite)
		second, secondID := b.addKey(t, org, server.ScopeRead, server.ScopeWrite)
		a := b.browser(t, "192.0.2.31")
		a.mustSignIn(t, second)
		there := a.onReplica(t, replica)
		require.Equal(t, http.StatusOK, there.get(t, "/admin").status)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodDelete, "/v1/api-keys/"+secondID.String(), key, "", nil, nil).StatusCode)
		requireSignInRedirect(t, there.get(t, "/admin"))
		requireSignInRedirect(t, a.get(t, "/admin"))
	})

	t.Run("SignInAndSignOutAreAudited", func(t *testing.T) {
		org, key := b.seedOrg(t, "veridian", server.ScopeRead, server.ScopeWrite)
		keyID := b.keyID(t, org, key)
		a := b.browser(t, "192.0.2.32")
		token := a.mustSignIn(t, key)
		in := b.auditOf(t, org, "admin.signed_in")
		require.Equal(t, []string{audit.ActorAdmin, keyID.String(), "192.0.2.32", "admin_session"}, in[:4])
		require.Zero(t, b.countActions(t, org, "admin.signed_out"))
		requireSignInRedirect(t, a.do(t, http.MethodPost, "/admin/sign-out", url.Values{"csrf_token": {token}}))
		out := b.auditOf(t, org, "admin.signed_out")
		require.Equal(t, in, append(out[:4:4], in[4]), "the same session, by the same key, from the same address")
		b.requireAudit(t, org, "admin.signed_out", uuid.MustParse(out[4]))
		refused := b.browser(t, "192.0.2.33")
		require.Equal(t, http.StatusUnauthorized, refused.signIn(t, key[:len(key)-2]+"zz").status)
		require.Equal(t, 1, b.countActions(t, org, "admin.signed_in"), "a refused sign-in starts no session")
	})
}

func TestAdminSignInRateLimit(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	clock := newTestClock()
	b := setupWith(t, srv, []server.Option{server.WithClock(clock.Now)}, adminConfig)
	_, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	guesser := b.browser(t, "198.51.100.7")
	for i := range 10 {
		require.Equal(t, http.StatusUnauthorized, guesser.signIn(t, "rk_live_guess"+strconv.Itoa(i)).status, "attempt %d", i)
	}
	p := guesser.signIn(t, key)
	require.Equal(t, http.StatusTooManyRequests, p.status, "limited before the token is even looked at")
	require.Equal(t, "6", p.header.Get("Retry-After"), "one attempt every 6 s")
	require.Nil(t, guesser.sessionCookie(t))
	require.Equal(t, http.StatusSeeOther, b.browser(t, "198.51.100.8").signIn(t, key).status, "limits are per client address")
	clock.Advance(6 * time.Second)
	require.Equal(t, http.StatusSeeOther, guesser.signIn(t, key).status, "one more attempt once the wait is over")
}

func TestAdminSignInLimitIgnoresAnUntrustedForwardedFor(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	clock := newTestClock()
	b := setupWith(t, srv, []server.Option{server.WithClock(clock.Now)}, func(c *config.Config) {
		adminConfig(c)
		c.TrustedProxies = nil
	})
	_, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	for i := range 10 {
		forger := b.browser(t, "198.51.100."+strconv.Itoa(i+1))
		require.Equal(t, http.StatusUnauthorized, forger.signIn(t, "rk_live_guess"+strconv.Itoa(i)).status, "attempt %d", i)
	}
	p := b.browser(t, "203.0.113.99").signIn(t, key)
	require.Equal(t, http.StatusTooManyRequests, p.status, "a made-up X-Forwarded-For from an untrusted peer is not a new client")
}

func TestAdminCookiesAreSecureByDefault(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.PublicBaseURL = "https://app.example" })
	p := b.browser(t, "192.0.2.1").get(t, "/admin/sign-in")
	require.NotEmpty(t, p.cookies)
	for _, c := range p.cookies {
		require.True(t, c.Secure, c.Name)
		require.True(t, c.HttpOnly, c.Name)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite, c.Name)
	}
}
