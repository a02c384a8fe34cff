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

package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server/admin"
	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/app/webhook"
)

// trustMaxAge bounds how old a served statement may be. A statement is
// kept no longer than the isolation check's interval either, so that a
// drift the fence does not watch (an audit trigger disabled) shows as soon
// as one it watches; a change of the fence's or the chain check's outcome
// replaces it at once.
const trustMaxAge = 30 * time.Second

// trustKeptFor is how long a statement is kept.
func (s *Server) trustKeptFor() time.Duration { return min(trustMaxAge, s.fence.interval) }

// trustMeasureTimeout bounds the database measurement of one statement.
const trustMeasureTimeout = 5 * time.Second

// WithTrust gives the server the Region's key that signs /trust.json and
// the version of the binary, which the statement names. Without it the
// statement is signed with a key of this process, which nothing publishes.
func WithTrust(key ed25519.PrivateKey, version string) Option {
	return func(s *Server) { s.trust.key, s.trust.version = key, version }
}

// trustIssuer issues the Region's statement and keeps the latest for up to
// trustMaxAge. Requests that arrive while one is being measured wait for
// it, so the database is measured at most once per change or per
// trustMaxAge, however many ask.
type trustIssuer struct {
	key     ed25519.PrivateKey
	version string
	page    *trust.Page

	mu     sync.Mutex
	issued *trustIssue
	// measuring is closed when the measurement running ends; nil while
	// none runs.
	measuring chan struct{}
}

// trustIssue is one statement in the forms it is served.
type trustIssue struct {
	at      time.Time
	inputs  string // the fence's and the chain check's outcomes it reflects
	json    []byte
	html    []byte
	expires time.Time
}

// initTrust readies the issuer; called by New once the options are set.
func (s *Server) initTrust() {
	page, err := trust.NewPage()
	if err != nil {
		panic(err) // the template is embedded: a parse error is a build error
	}
	s.trust.page = page
	if s.trust.key == nil {
		_, s.trust.key, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(fmt.Sprintf("drawing a process trust key: %v", err))
		}
		s.log.Warn("No trust key given: /trust.json is signed with a key of this process, which nothing publishes")
	}
	if s.trust.version == "" {
		s.trust.version = "devel"
	}
}

// currentTrust is the statement to serve: the kept one while it is fresh
// and its inputs unchanged, otherwise a new one. One measurement runs at a
// time, and the requests that arrive meanwhile wait for its outcome, each
// only as long as its own context allows.
func (s *Server) currentTrust(ctx context.Context) (*trustIssue, error) {
	t := &s.trust
	for {
		check, chains := s.fence.latest(), s.chains.latest()
		inputs := fmt.Sprintf("%s|%s|%t|%d|%d|%d|%s", check.Outcome, check.Finding, chains.CheckedAt != nil,
			chains.Checked, chains.Failed, chains.Unchecked, chains.Error)
		t.mu.Lock()
		if i := t.issued; i != nil && i.inputs == inputs && s.now().Before(i.expires) {
			t.mu.Unlock()
			return i, nil
		}
		if wait := t.measuring; wait != nil {
			t.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		t.measuring = done
		t.mu.Unlock()
		// Not the request's context: its cancellation must not become the
		// statement everyone is served.
		issue, err := s.issueTrust(context.WithoutCancel(ctx), inputs, check, chains)
		t.mu.Lock()
		t.measuring = nil
		if err == nil {
			t.issued = issue
		}
		t.mu.Unlock()
		close(done)
		return issue, err
	}
}

// issueTrust measures, signs and renders one statement. It is kept for
// trustKeptFor from when the measurement ended, or a second when the
// database could not be measured, so that it is measured again as soon as
// the database answers.
func (s *Server) issueTrust(ctx context.Context, inputs string, check trust.IsolationCheck, chains trust.AuditChains) (*trustIssue, error) {
	t := &s.trust
	st := s.measureStatement(ctx, s.now(), check, chains)
	signed, err := trust.Sign(st, t.key)
	if err != nil {
		return nil, err
	}
	html, err := t.page.Render(st, trust.PublicKeyString(t.key), int(max(time.Second, s.trustKeptFor())/time.Second))
	if err != nil {
		return nil, err
	}
	ended := s.now()
	expires := ended.Add(s.trustKeptFor())
	if st.Database == nil {
		expires = ended.Add(time.Second)
	}
	return &trustIssue{at: st.IssuedAt, inputs: inputs, json: signed, html: html, expires: expires}, nil
}

// measureStatement builds the statement at now; a database that cannot be
// measured fails the claims read from it, and says why.
func (s *Server) measureStatement(ctx context.Context, now time.Time, check trust.IsolationCheck, chains trust.AuditChains) trust.Statement {
	st := trust.Statement{
		Format: trust.Format, Region: s.cfg.Region, Location: s.cfg.Location, URL: s.cfg.PublicBaseURL,
		IssuedAt: now.UTC(), IsolationCheck: check, AuditChains: chains,
		Webhooks:             webhookClaims(),
		HTTPTransport:        httpTransport(s.cfg.PublicBaseURL),
		AtRest:               atRest(s.answers, now),
		Retention:            retention(s.cfg.RetentionGracePeriod),
		Versions:             trust.Versions{Binary: s.trust.version},
		NonClaims:            nonClaims(s.cfg.SecurityContact),
		VulnerabilityContact: s.cfg.SecurityContact,
	}
	mctx, cancel := context.WithTimeout(ctx, trustMeasureTimeout)
	defer cancel()
	m, schema, err := s.db.MeasureTrust(mctx, now)
	if err != nil {
		s.log.Warn("Cannot measure the trust claims", "error", err.Error())
		st.DatabaseError = "the database could not be measured"
	} else {
		st.Database, st.Versions.Schema = &m, schema
	}
	st.Summarize()
	return st
}

// webhookClaims say how each provider's deliveries are verified: facts of
// this binary, the same for every endpoint but its tolerance.
func webhookClaims() []trust.Webhook {
	replay := "the event id is stored once per organization and provider; a repeated delivery is acknowledged and changes nothing"
	refusal := "401 with an empty body, the same for every reason (bad signature, stale or future timestamp, unknown endpoint)"
	tolerance := func(w trust.Webhook) trust.Webhook {
		w.ToleranceDefaultSeconds = int(webhook.DefaultTolerance / time.Second)
		w.ToleranceMinSeconds = int(webhook.MinTolerance / time.Second)
		w.ToleranceMaxSeconds = int(webhook.MaxTolerance / time.Second)
		w.Replay, w.Refusal = replay, refusal
		return w
	}
	return []trust.Webhook{
		tolerance(trust.Webhook{Provider: webhook.ProviderStripe, Scheme: "Stripe-Signature: t=<unix time>,v1=<hex>",
			Algorithm: "HMAC-SHA256 over t.body, compared in constant time; any current secret of the endpoint"}),
		tolerance(trust.Webhook{Provider: webhook.ProviderClerk, Scheme: "Svix: svix-id, svix-timestamp, svix-signature v1,<base64>",
			Algorithm: "HMAC-SHA256 over id.timestamp.body, compared in constant time; any current secret of the endpoint"}),
		tolerance(trust.Webhook{Provider: webhook.ProviderPaddle, Scheme: "Paddle-Signature: ts=<unix time>;h1=<hex>",
			Algorithm: "HMAC-SHA256 over ts:body, compared in constant time; any current secret key of the endpoint"}),
		tolerance(trust.Webhook{Provider: webhook.ProviderShopify, Scheme: "X-Shopify-Hmac-Sha256: <base64>",
			Algorithm: "HMAC-SHA256 over the body alone, compared in constant time; any current client secret of the endpoint. " +
				"The webhook id, topic and X-Shopify-Triggered-At are not signed: the tolerance on that time is not cryptographic"}),
		tolerance(trust.Webhook{Provider: webhook.ProviderBraintree, Scheme: "form fields bt_signature=<public key>|<hex>, bt_payload=<base64 XML>",
			Algorithm: "HMAC-SHA1 keyed with SHA-1 of the private key, over bt_payload, whose signed XML carries the timestamp; " +
				"compared in constant time; any current key pair of the endpoint"}),
	}
}

// httpTransport says who encrypts the HTTP side: the app serves plain
// HTTP, so an https public URL is a proxy's.
func httpTransport(publicBaseURL string) trust.HTTPTransport {
	u, err := url.Parse(publicBaseURL)
	if err != nil || u.Scheme != "https" {
		return trust.HTTPTransport{TerminatedBy: "none", PublicScheme: "http"}
	}
	return trust.HTTPTransport{TerminatedBy: "proxy", PublicScheme: "https"}
}

func retention(grace time.Duration) trust.Retention {
	return trust.Retention{
		GracePeriodHours: int(grace / time.Hour),
		Purge:            "then every tenant row of the organization is deleted",
		Kept:             []string{"the organization's audit log, whose entries' personal data is unreadable once its data keys are destroyed"},
	}
}

// atRest describes the key ring, never its keys.
func atRest(ring *keyring.KeyRing, now time.Time) trust.AtRest {
	out := trust.AtRest{Algorithm: "AES-256-GCM", Keys: len(ring.KeyIDs())}
	if newest, ok := ring.PrimaryCreated(); ok {
		days := max(0, int(now.Sub(newest)/(24*time.Hour)))
		out.NewestKeyCreatedAt, out.NewestKeyAgeDays = &newest, &days
	}
	return out
}

// nonClaims are stated as plainly as the claims.
func nonClaims(contact string) []string {
	out := []string{
		"No SOC 2 report yet.",
		"No SAML single sign-on yet: the admin pages sign in with an API key.",
	}
	if contact == "" {
		out = append(out, "This Region names no contact for reporting a vulnerability.")
	}
	return out
}

// serveTrust answers GET /trust.json or GET /trust from the current
// statement.
func (s *Server) serveTrust(contentType string, body func(*trustIssue) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		issue, err := s.currentTrust(r.Context())
		if r.Context().Err() != nil {
			return // the client is gone
		}
		if err != nil {
			s.internalError(w, r, "issuing the trust statement", err)
			return
		}
		h := w.Header()
		admin.SetSecurityHeaders(h) // the statement may then be cached as long as it is kept
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(max(0, int(issue.expires.Sub(s.now())/time.Second))))
		h.Set("Last-Modified", issue.at.UTC().Format(http.TimeFormat))
		h.Set("Content-Type", contentType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body(issue))
	}
}

// trustStyleSheet answers GET /trust.css.
func (s *Server) trustStyleSheet(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	admin.SetSecurityHeaders(h)
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.trust.page.StyleSheet())
}

// routeTrust mounts /trust, /trust.json and the page's style sheet.
func (s *Server) routeTrust() {
	s.route("GET /trust", s.serveTrust("text/html; charset=utf-8", func(i *trustIssue) []byte { return i.html }))
	s.route("GET /trust.json", s.serveTrust("application/json", func(i *trustIssue) []byte { return i.json }))
	s.route("GET /trust.css", http.HandlerFunc(s.trustStyleSheet))
}
