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
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/audit/audittest"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server"
	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/app/webhook"
	"github.com/rekomi/rekomi/migrations"
)

// trustBundle is a server with a trust key of its own, checking isolation
// every 100 ms and the witnessed audit chains as often, whose witnesses
// are read from dir and signed with witnessKey.
type trustBundle struct {
	*bundle
	key        ed25519.PrivateKey
	dir        string
	witnessKey ed25519.PrivateKey
}

// keyMadeAt is when the trust bundles' key ring says its key was made.
var keyMadeAt = time.Date(2026, 11, 2, 10, 30, 0, 0, time.UTC)

func setupTrust(t *testing.T, srv *dbtest.Server, opts ...server.Option) *trustBundle {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	witnessPub, witnessKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ring, err := keyring.GenerateAt(rand.Reader, keyMadeAt)
	require.NoError(t, err)
	dir := t.TempDir()
	opts = append([]server.Option{server.WithKeyRing(ring), server.WithTrust(key, "v1.2.3-test"),
		server.WithChainCheckInterval(100 * time.Millisecond)}, opts...)
	b := setupWith(t, srv, opts, func(c *config.Config) {
		c.IsolationCheckInterval = 100 * time.Millisecond
		c.SecurityContact = "mailto:security@example.com"
		c.PublicBaseURL = "https://eu.affiliates.example.com"
		c.AuditWitnessDir, c.AuditWitnessPublicKey = dir, base64.StdEncoding.EncodeToString(witnessPub)
	})
	b.ring = ring
	return &trustBundle{bundle: b, key: key, dir: dir, witnessKey: witnessKey}
}

// witnessOne seeds an organization named name with three audit entries
// and publishes the operator's witness of them.
func (b *trustBundle) witnessOne(t *testing.T, name string) uuid.UUID {
	t.Helper()
	org, _ := b.seedOrg(t, name, server.ScopeRead)
	var last audit.Record
	for range 3 {
		last = b.appendAudit(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test",
			Action: "campaign.created", TargetType: "campaign", TargetID: "c"})
	}
	wb := &witnessBundle{bundle: b.bundle, dir: b.dir, key: b.witnessKey, org: org}
	wb.publishWitness(t, witness(t, org, last, time.Now().UTC().Truncate(time.Second), b.witnessKey))
	return org
}

// statement fetches /trust.json, checks its signature with the server's
// key, and decodes the statement strictly: a field the type does not know
// fails.
func (b *trustBundle) statement(t *testing.T) (trust.Statement, []byte) {
	t.Helper()
	resp := b.get(t, "/trust.json")
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	raw, err := trust.Verify(data, b.key.Public().(ed25519.PublicKey))
	require.NoError(t, err)
	var st trust.Statement
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&st))
	return st, data
}

// claims are the statement's claims by id.
func claims(st trust.Statement) map[string]trust.Claim {
	out := map[string]trust.Claim{}
	for _, c := range st.Claims {
		out[c.ID] = c
	}
	return out
}

// page fetches /trust.
func (b *trustBundle) page(t *testing.T) (string, http.Header) {
	t.Helper()
	resp := b.get(t, "/trust")
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	return html.UnescapeString(string(data)), resp.Header
}

// verified waits until the statement reflects a passed isolation check.
func (b *trustBundle) verified(t *testing.T) trust.Statement {
	t.Helper()
	var st trust.Statement
	require.Eventually(t, func() bool {
		st, _ = b.statement(t)
		return st.IsolationCheck.Outcome == trust.CheckVerified && st.AuditChains.CheckedAt != nil
	}, 10*time.Second, 20*time.Millisecond, "the first checks never finished")
	return st
}

func TestTrust(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	_, doc := loadOpenAPI(t)
	schema := responseSchema(t, doc, "get", "/trust.json", "200", "application/json")

	t.Run("StatesEveryClaimMeasuredFromARealRegion", func(t *testing.T) {
		t.Parallel()
		b := setupTrust(t, srv)
		b.witnessOne(t, "acme")
		b.verified(t)
		var st trust.Statement
		require.Eventually(t, func() bool {
			st, _ = b.statement(t)
			return st.AuditChains.Checked == 1
		}, 10*time.Second, 20*time.Millisecond, "the witnessed chain is checked")
		_, data := b.statement(t)
		var generic any
		require.NoError(t, json.Unmarshal(data, &generic))
		require.Empty(t, schemaMismatches(t, doc, schema, generic, "trust"), "the statement must match its OpenAPI schema")

		require.Equal(t, trust.Format, st.Format)
		require.Equal(t, "eu", st.Region)
		require.Equal(t, "eu", st.Location)
		require.Equal(t, "https://eu.affiliates.example.com", st.URL)
		require.WithinDuration(t, time.Now(), st.IssuedAt, time.Minute)
		latest, err := migrations.Latest()
		require.NoError(t, err)
		require.Equal(t, trust.Versions{Schema: latest, Binary: "v1.2.3-test"}, st.Versions)

		c := claims(st)
		require.Len(t, c, 7)
		for _, id := range []string{trust.ClaimRuntimeRole, trust.ClaimTenantTables, trust.ClaimIsolationCheck,
			trust.ClaimAuditLog, trust.ClaimAuditChains, trust.ClaimWebhookReplay} {
			require.True(t, c[id].Holds, "%s: %+v", id, c[id])
			require.Empty(t, c[id].Findings, id)
			require.NotNil(t, c[id].Measured, id)
			require.NotEmpty(t, c[id].HowToCheck, id)
		}
		// The tests' PostgreSQL listens on a Unix socket without TLS: the
		// statement says so, and so does not hold as a whole.
		require.False(t, c[trust.ClaimDatabaseTransport].Holds)
		require.Equal(t, []string{"the connection is not TLS: the database is reached in plain text"}, c[trust.ClaimDatabaseTransport].Findings)
		require.False(t, st.Holds)

		m := st.Database
		require.NotNil(t, m)
		require.Equal(t, b.region.Runtime, m.RuntimeRole.Name)
		require.False(t, m.RuntimeRole.Superuser || m.RuntimeRole.BypassRLS || m.RuntimeRole.CreateRole)
		require.Equal(t, []string{b.region.Owner}, m.RuntimeRole.TableOwners)
		var want, got []string
		for _, p := range migrations.Policies() {
			want = append(want, p.Table)
		}
		for _, tbl := range m.TenantTables.Tables {
			got = append(got, tbl.Name)
			require.True(t, tbl.RLSEnabled && tbl.RLSForced, tbl.Name)
			require.NotEmpty(t, tbl.Policies, tbl.Name)
			for _, p := range tbl.Policies {
				require.Regexp(t, `rekomi_current_org\(\)|rekomi_route_key\(\)`, p.Using+p.WithCheck, "%s.%s", tbl.Name, p.Name)
			}
		}
		slices.Sort(want)
		require.Equal(t, slices.Compact(want), got, "every tenant table, from the catalog")
		require.ElementsMatch(t, []string{"audit_log_chain", "audit_log_no_truncate", "audit_log_no_update_delete"}, m.AuditLog.Triggers)
		require.Contains(t, m.Replay.Index, "(org_id, provider, event_id)")
		require.False(t, m.Transport.TLS)

		require.Equal(t, trust.CheckVerified, st.IsolationCheck.Outcome)
		require.Empty(t, st.IsolationCheck.Finding)
		require.True(t, st.AuditChains.Witnessed)
		require.Equal(t, 1, st.AuditChains.Checked)
		require.Zero(t, st.AuditChains.Failed)
		require.Zero(t, st.AuditChains.Unchecked)
		providers := make([]string, len(st.Webhooks))
		for i, w := range st.Webhooks {
			providers[i] = w.Provider
			require.Equal(t, 300, w.ToleranceDefaultSeconds, w.Provider)
			require.Equal(t, 60, w.ToleranceMinSeconds, w.Provider)
			require.Equal(t, 600, w.ToleranceMaxSeconds, w.Provider)
			mac := "HMAC-SHA256"
			if w.Provider == webhook.ProviderBraintree {
				mac = "HMAC-SHA1"
			}
			require.Contains(t, w.Algorithm, mac, w.Provider)
			require.Contains(t, w.Refusal, "401 with an empty body", w.Provider)
		}
		require.Equal(t, webhook.Providers(), providers, "every provider the server receives is stated")
		require.Contains(t, st.Webhooks[3].Algorithm, "not cryptographic", "Shopify's time is not signed, and the statement says so")
		require.Equal(t, trust.HTTPTransport{TerminatedBy: "proxy", PublicScheme: "https"}, st.HTTPTransport)
		age := int(st.IssuedAt.Sub(keyMadeAt) / (24 * time.Hour))
		require.Equal(t, trust.AtRest{Algorithm: "AES-256-GCM", Keys: 1, NewestKeyCreatedAt: &keyMadeAt, NewestKeyAgeDays: &age}, st.AtRest)
		require.Greater(t, age, 0)
		require.Equal(t, 720, st.Retention.GracePeriodHours)
		require.Equal(t, "mailto:security@example.com", st.VulnerabilityContact)
		require.Contains(t, strings.Join(st.NonClaims, " "), "No SOC 2 report yet")
		require.Contains(t, strings.Join(st.NonClaims, " "), "No SAML single sign-on yet")
	})

	t.Run("ServesAPageWithTheAdminPagesPolicyAndNoScript", func(t *testing.T) {
		t.Parallel()
		b := setupTrust(t, srv)
		b.verified(t)
		page, h := b.page(t)
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
		require.Equal(t, "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			h.Get("Content-Security-Policy"))
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		has := func(s string) { t.Helper(); require.True(t, strings.Contains(page, s), "the page lacks %q", s) }
		require.False(t, strings.Contains(strings.ToLower(page), "<script"), "the page runs no script")
		require.False(t, regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(page), "no inline handler such as onclick=")
		for _, id := range []string{"claims", "runtime-role", "tenant-tables", "audit-log", "webhooks", "transport", "location", "non-claims", "signature"} {
			has(`<section id="` + id + `">`)
		}
		has(trust.PublicKeyString(b.key))
		has(`id="claim-tenant_tables" data-holds="true"`)
		has(`id="claim-database_transport" data-holds="false"`)
		has("security@example.com")
		resp := b.get(t, "/trust.css")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "text/css; charset=utf-8", resp.Header.Get("Content-Type"))
		resp.Body.Close()
	})

	t.Run("TurnsRedOnDriftAndBackOnRepair", func(t *testing.T) {
		t.Parallel()
		drifts := map[string]struct {
			drift, repair string
			claims        []string // the claims that fail
			finding       string
		}{
			"RuntimeRoleBypassesRLS": {
				drift: "ALTER ROLE {runtime} BYPASSRLS", repair: "ALTER ROLE {runtime} NOBYPASSRLS",
				claims: []string{trust.ClaimRuntimeRole, trust.ClaimIsolationCheck}, finding: "BYPASSRLS",
			},
			"RLSNotForced": {
				drift:  "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY",
				repair: "ALTER TABLE campaigns FORCE ROW LEVEL SECURITY",
				claims: []string{trust.ClaimTenantTables, trust.ClaimIsolationCheck}, finding: "campaigns",
			},
			"AnAppendOnlyTriggerDisabled": {
				drift:  "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
				repair: "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete",
				claims: []string{trust.ClaimAuditLog}, finding: "audit_log_no_update_delete",
			},
		}
		for name, tt := range drifts {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setupTrust(t, srv)
				before := claims(b.verified(t))
				names := strings.NewReplacer("{runtime}", pgx.Identifier{b.region.Runtime}.Sanitize())

				dbtest.Exec(t, b.region.AdminURL, names.Replace(tt.drift))
				var st trust.Statement
				require.Eventually(t, func() bool {
					st, _ = b.statement(t)
					c := claims(st)
					for _, id := range tt.claims {
						if c[id].Holds {
							return false
						}
					}
					return true
				}, 10*time.Second, 20*time.Millisecond, "the claims must fail within the check interval")
				c := claims(st)
				for id, was := range before {
					failing := false
					for _, f := range tt.claims {
						failing = failing || f == id
					}
					if failing {
						require.Contains(t, strings.Join(c[id].Findings, "\n"), tt.finding, id)
					} else {
						require.Equal(t, was.Holds, c[id].Holds, "%s is not touched by the drift", id)
					}
				}
				page, _ := b.page(t)
				require.True(t, strings.Contains(page, `id="claim-`+tt.claims[0]+`" data-holds="false"`), "the page must mark the claim failed")

				dbtest.Exec(t, b.region.AdminURL, names.Replace(tt.repair))
				require.Eventually(t, func() bool {
					st, _ = b.statement(t)
					c := claims(st)
					for id, was := range before {
						if c[id].Holds != was.Holds {
							return false
						}
					}
					return true
				}, 10*time.Second, 20*time.Millisecond, "the claims must hold again once repaired")
			})
		}
	})

	t.Run("PassesNoChainCheckThatCheckedNothing", func(t *testing.T) {
		t.Parallel()
		b := setupTrust(t, srv)
		c := claims(b.verified(t))[trust.ClaimAuditChains]
		require.False(t, c.Holds, "no witnessed organization: nothing was checked")
		require.Equal(t, []string{"no organization's chain has been witnessed yet, so none was checked"}, c.Findings)

		b.witnessOne(t, "acme")
		require.NoError(t, os.RemoveAll(b.dir), "the witnesses' volume is gone")
		require.Eventually(t, func() bool {
			st, _ := b.statement(t)
			return st.AuditChains.Error != ""
		}, 10*time.Second, 20*time.Millisecond)
		st, _ := b.statement(t)
		c = claims(st)[trust.ClaimAuditChains]
		require.False(t, c.Holds)
		require.Equal(t, []string{"the operator's witnesses could not be read"}, c.Findings)
		require.NotNil(t, st.AuditChains.CheckedAt, "a check that found nothing to read is still recorded, not the last success")
	})

	t.Run("SaysWhenAnAuditChainDepartsFromItsWitness", func(t *testing.T) {
		t.Parallel()
		b := setupTrust(t, srv)
		org := b.witnessOne(t, "acme")
		require.Eventually(t, func() bool {
			st, _ := b.statement(t)
			return st.AuditChains.Checked == 1 && claims(st)[trust.ClaimAuditChains].Holds
		}, 10*time.Second, 20*time.Millisecond, "the witnessed chain is checked and agrees")

		audittest.RewriteAsOwner(t, b.region.OwnerURL, org, 3)
		var st trust.Statement
		var data []byte
		require.Eventually(t, func() bool {
			st, data = b.statement(t)
			return st.AuditChains.Failed == 1
		}, 10*time.Second, 20*time.Millisecond, "the rewrite must be reported")
		c := claims(st)[trust.ClaimAuditChains]
		require.False(t, c.Holds)
		require.Equal(t, []string{"1 of 1 organizations' chains broke or departed from their witness"}, c.Findings)
		require.NotContains(t, string(data), org.String(), "which organization failed is logged, never published")
		require.Contains(t, b.logs.String(), org.String())
	})

	t.Run("NamesNoTenant", func(t *testing.T) {
		t.Parallel()
		b := setupTrust(t, srv)
		org, apiKey := b.seedOrg(t, "acme-confidential", server.ScopeRead, server.ScopeWrite)
		b.seedSecrets(t, org)
		var last audit.Record
		for range 2 {
			last = b.appendAudit(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test",
				Action: "campaign.created", TargetType: "campaign", TargetID: "c"})
		}
		wb := &witnessBundle{bundle: b.bundle, dir: b.dir, key: b.witnessKey, org: org}
		wb.publishWitness(t, witness(t, org, last, time.Now().UTC(), b.witnessKey))
		require.Eventually(t, func() bool {
			st, _ := b.statement(t)
			return st.AuditChains.Checked == 1
		}, 10*time.Second, 20*time.Millisecond)
		_, data := b.statement(t)
		page, _ := b.page(t)
		prefix, _, _ := strings.Cut(strings.TrimPrefix(apiKey, "rk_live_"), "_")
		for _, secret := range []string{org.String(), "acme-confidential", "ann@example.com", apiKey, prefix} {
			require.False(t, strings.Contains(string(data), secret), "/trust.json names %q", secret)
			require.False(t, strings.Contains(page, secret), "/trust names %q", secret)
		}
	})

	t.Run("KeepsAStatementUntilItExpiresOrAnOutcomeChanges", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		b := setupTrust(t, srv, server.WithClock(clock.Now))
		first := b.verified(t)
		again, _ := b.statement(t)
		require.Equal(t, first.IssuedAt, again.IssuedAt, "kept while the clock stands and no outcome changes")
		resp := b.get(t, "/trust.json")
		resp.Body.Close()
		require.Regexp(t, `^public, max-age=\d+$`, resp.Header.Get("Cache-Control"))

		clock.Advance(200 * time.Millisecond)
		later, _ := b.statement(t)
		require.True(t, later.IssuedAt.After(first.IssuedAt), "measured again once older than the check interval")
	})
}
