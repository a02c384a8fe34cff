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
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
	"github.com/rekomi/rekomi/app/storable"
)

// storedHeaders are the request headers an audited write may copy into the
// database, directly or through what it decides from them.
var storedHeaders = []string{"User-Agent", server.RequestIDHeader, server.IdempotencyKeyHeader, "X-Forwarded-For", "Referer"}

// TestStoredHeaders checks that header bytes a client may send never fail
// an audited write: what is stored is the header made storable.
func TestStoredHeaders(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })

	for _, tc := range []struct {
		name, userAgent, stored string
	}{
		{"InvalidUTF8IsReplaced", "\xff\xfe", "\uFFFD"},
		{"ALongUserAgentIsCutOnACharacter", strings.Repeat("a", 1023) + "éé", strings.Repeat("a", 1023) + "é"},
		{"ALongInvalidUserAgentIsCutAfterReplacing", strings.Repeat("a\xff\xfe", 600), strings.Repeat("a\uFFFD", 512)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			org, key := b.seedOrg(t, strings.ToLower(tc.name), server.ScopeRead, server.ScopeWrite)
			resp, id := b.createCampaign(t, key, http.Header{"User-Agent": {tc.userAgent}})
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			require.Equal(t, tc.stored, b.storedUserAgent(t, org, id))
		})
	}
}

// TestWebhookUserAgent checks that a provider's delivery is stored and
// audited whatever bytes its User-Agent holds: a refusal there would make the
// provider retry forever.
func TestWebhookUserAgent(t *testing.T) {
	t.Parallel()
	b := setupWebhooks(t, dbtest.Start(t))
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	ep := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	body := stripeEvent("evt_ua", "customer.created")
	h := stripeSigned(time.Now().Unix(), body, stripeSecret)
	h.Set("User-Agent", "Stripe/1.0 \xff\xfe"+strings.Repeat("é", 1100))
	require.Equal(t, http.StatusOK, b.deliver(t, webhookPath("stripe", ep), h, body).status)
	ua := b.openedPersonal(t, org, "billing_event.received", "evt_ua").UserAgent
	kept := "Stripe/1.0 \uFFFD"
	require.Equal(t, kept+strings.Repeat("é", 1024-utf8.RuneCountInString(kept)), ua)
}

// FuzzAuditedWriteHeaders sends POST /v1/campaigns, an audited write, with
// any header values net/http accepts: the answer is never a 5xx, and a
// created campaign's entry holds the user agent made storable.
func FuzzAuditedWriteHeaders(f *testing.F) {
	srv := dbtest.Start(f)
	b := setup(f, srv, func(c *config.Config) { c.MaxBodyBytes = 1024; c.RateLimit, c.RateBurst = 1_000_000, 1_000_000 })
	org, key := b.seedOrg(f, "fuzz", server.ScopeRead, server.ScopeWrite)
	f.Add("\xff\xfe", "req-\xff\xfe-0001", "idem-\xff", "203.0.113.9, \xff", "https://example.com/\xfe")
	f.Add(strings.Repeat("é", 1030), "abcdefgh", "key-1", "", "")
	f.Add("\t Mozilla/5.0 \t", "", "", "::1", "\x80")
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, userAgent, requestID, idempotencyKey, forwardedFor, referer string) {
		values := []string{userAgent, requestID, idempotencyKey, forwardedFor, referer}
		h := http.Header{}
		for i, name := range storedHeaders {
			if !validFieldValue(values[i]) {
				return // no client of net/http sends it, and its server would refuse it
			}
			if values[i] != "" {
				h.Set(name, values[i])
			}
		}
		h.Set(server.IdempotencyKeyHeader, h.Get(server.IdempotencyKeyHeader)+fmt.Sprint(n.Add(1)))
		resp, id := b.createCampaign(t, key, h)
		require.Less(t, resp.StatusCode, 500, "headers %q", values)
		if resp.StatusCode == http.StatusCreated {
			require.Equal(t, storable.Text(strings.Trim(userAgent, " \t"), 1024), b.storedUserAgent(t, org, id))
		}
	})
}

// validFieldValue reports whether net/http sends and accepts s as a header
// field value: no control character but HTAB (RFC 9110's field-value, as
// golang.org/x/net/http/httpguts checks it).
func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// createCampaign posts a new campaign with the given headers and returns
// the answer and the campaign's id (uuid.Nil unless created).
func (b *bundle) createCampaign(t testing.TB, key string, h http.Header) (*http.Response, uuid.UUID) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+"/v1/campaigns", strings.NewReader(campaignBody(dbtest.UniqueName("campaign"))))
	require.NoError(t, err)
	req.Header = h.Clone()
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var c campaignObject
	if resp.StatusCode == http.StatusCreated {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	}
	return resp, c.ID
}

// storedUserAgent reads the user agent of the campaign.created entry of
// campaign id.
func (b *bundle) storedUserAgent(t testing.TB, org, id uuid.UUID) string {
	t.Helper()
	return b.openedPersonal(t, org, "campaign.created", id.String()).UserAgent
}
