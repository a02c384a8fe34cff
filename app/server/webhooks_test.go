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
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server"
	"github.com/rekomi/rekomi/app/webhook"
)

const (
	stripeSecret    = "whsec_stripe0123456789"
	oldStripeSecret = "whsec_stripe-retiring-soon"
)

var clerkSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("a clerk endpoint's signing key"))

// setupWebhooks runs a server with a key ring, which opens endpoint
// secrets, and the API's small body limit: webhooks have their own.
func setupWebhooks(t *testing.T, srv *dbtest.Server) *bundle {
	t.Helper()
	return setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })
}

// endpointSeed is a webhook endpoint as the operator writes it.
type endpointSeed struct {
	provider string
	secrets  []string
	disabled bool
	// routeOrg owns the route key, when it is not the endpoint's own org;
	// noRoute leaves the route key out.
	routeOrg uuid.UUID
	noRoute  bool
}

// seedEndpoint writes an endpoint row and its route key as the admin, with
// the secrets sealed as the operator seals them.
func (b *bundle) seedEndpoint(t *testing.T, org uuid.UUID, e endpointSeed) uuid.UUID {
	t.Helper()
	id := uuid.New()
	plain, err := json.Marshal(e.secrets)
	require.NoError(t, err)
	sealed, err := b.ring.Encrypt(plain, webhook.SecretsAAD(id))
	require.NoError(t, err)
	b.adminExec(t, `INSERT INTO webhook_endpoints (org_id, id, name, provider, secrets, tolerance_seconds, disabled)
		VALUES ($1, $2, $3, $4, $5, 300, $6)`, org, id, "ns/"+id.String(), e.provider, sealed, e.disabled)
	if !e.noRoute {
		routeOrg := org
		if e.routeOrg != uuid.Nil {
			routeOrg = e.routeOrg
		}
		b.adminExec(t, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('webhook_endpoint', $1, $2, $3)`, id.String(), routeOrg, id)
	}
	return id
}

// delivery is one webhook request and its answer.
type delivery struct {
	status int
	header http.Header
	body   []byte
}

func (b *bundle) deliver(t *testing.T, path string, header http.Header, body string) delivery {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return delivery{status: resp.StatusCode, header: resp.Header, body: got}
}

func stripeEvent(id, typ string) string {
	return fmt.Sprintf(`{"id":%q,"object":"event","api_version":"2019-02-19","type":%q,"data":{"object":{"id":"in_1","object":"invoice"}}}`, id, typ)
}

// stripeSigned signs body as Stripe does, at unix, with each secret.
func stripeSigned(unix int64, body string, secrets ...string) http.Header {
	parts := []string{"t=" + strconv.FormatInt(unix, 10)}
	for _, s := range secrets {
		parts = append(parts, fmt.Sprintf("v1=%x", stripewebhook.ComputeSignature(time.Unix(unix, 0), []byte(body), s)))
	}
	h := http.Header{}
	h.Set("Stripe-Signature", strings.Join(parts, ","))
	return h
}

// svixSigned signs body as Svix does, spelling the headers with prefix.
func svixSigned(t *testing.T, prefix, msgID string, unix int64, body string) http.Header {
	t.Helper()
	wh, err := svix.NewWebhook(clerkSecret)
	require.NoError(t, err)
	sig, err := wh.Sign(msgID, time.Unix(unix, 0), []byte(body))
	require.NoError(t, err)
	h := http.Header{}
	h.Set(prefix+"-id", msgID)
	h.Set(prefix+"-timestamp", strconv.FormatInt(unix, 10))
	h.Set(prefix+"-signature", sig)
	return h
}

func webhookPath(provider string, endpoint uuid.UUID) string {
	return "/webhooks/" + provider + "/" + endpoint.String()
}

// countEvents counts the org's billing_events with eventID and the audit
// entries of their receipt.
func (b *bundle) countEvents(t *testing.T, org uuid.UUID, eventID string) (events, entries int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM billing_events WHERE org_id = $1 AND event_id = $2),
			(SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'billing_event.received' AND target_id = $2)`,
			org, eventID).Scan(&events, &entries)
	}))
	return events, entries
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	stripeEP := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{oldStripeSecret, stripeSecret}})
	clerkEP := b.seedEndpoint(t, org, endpointSeed{provider: "clerk", secrets: []string{clerkSecret}})

	t.Run("StoresAStripeEventOnceAndAReplayChangesNothing", func(t *testing.T) {
		body := stripeEvent("evt_once", "invoice.paid")
		d := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status)
		require.Empty(t, d.body)
		ctx := context.Background()
		require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
			var endpoint uuid.UUID
			var provider, typ string
			var payload []byte
			require.NoError(t, tx.QueryRow(ctx, `SELECT endpoint_id, provider, type, payload FROM billing_events WHERE event_id = 'evt_once'`).
				Scan(&endpoint, &provider, &typ, &payload))
			require.Equal(t, stripeEP, endpoint)
			require.Equal(t, "stripe", provider)
			require.Equal(t, "invoice.paid", typ)
			require.JSONEq(t, body, string(payload))
			var actorType, actorID, targetType, metadata string
			require.NoError(t, tx.QueryRow(ctx, `SELECT actor_type, actor_id, target_type, metadata::text FROM audit_log WHERE target_id = 'evt_once'`).
				Scan(&actorType, &actorID, &targetType, &metadata))
			require.Equal(t, []string{"provider", "stripe", "billing_event"}, []string{actorType, actorID, targetType})
			require.JSONEq(t, `{"provider":"stripe","type":"invoice.paid","event_id":"evt_once"}`, metadata)
			return nil
		}))

		again := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, again.status, "a replay is accepted")
		events, entries := b.countEvents(t, org, "evt_once")
		require.Equal(t, 1, events, "a replay stores nothing")
		require.Equal(t, 1, entries, "a replay audits nothing")
	})

	t.Run("AcceptsEitherSecretDuringARotation", func(t *testing.T) {
		for i, secret := range []string{oldStripeSecret, stripeSecret} {
			body := stripeEvent(fmt.Sprintf("evt_rotation_%d", i), "customer.created")
			d := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, secret), body)
			require.Equal(t, http.StatusOK, d.status, "secret %d", i)
		}
		body := stripeEvent("evt_rotation_both", "customer.created")
		d := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, "whsec_unknown", stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status, "any matching v1 is enough")
	})

	t.Run("ReceivesClerkEventsInEitherSpelling", func(t *testing.T) {
		for _, prefix := range []string{"svix", "webhook"} {
			msgID := "msg_" + prefix
			body := `{"data":{"id":"user_1"},"object":"event","type":"user.created"}`
			d := b.deliver(t, webhookPath("clerk", clerkEP), svixSigned(t, prefix, msgID, time.Now().Unix(), body), body)
			require.Equal(t, http.StatusOK, d.status, prefix)
			events, entries := b.countEvents(t, org, msgID)
			require.Equal(t, []int{1, 1}, []int{events, entries}, prefix)
		}
	})

	t.Run("AcceptsABodyOfExactlyOneMebibyteAndRefusesMore", func(t *testing.T) {
		event := stripeEvent("evt_large", "invoice.paid")
		body := event + strings.Repeat(" ", 1<<20-len(event))
		d := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status, "the limit is the route's own, not the API's")

		over := body + " "
		d = b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), over, stripeSecret), over)
		require.Equal(t, http.StatusRequestEntityTooLarge, d.status)
		require.Empty(t, d.body)

		// A reader of unknown length is sent chunked, with no Content-Length.
		req, err := http.NewRequest(http.MethodPost, b.base+webhookPath("stripe", stripeEP), io.MultiReader(strings.NewReader(over)))
		require.NoError(t, err)
		req.Header = stripeSigned(time.Now().Unix(), over, stripeSecret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	})

	t.Run("FiftyConcurrentDeliveriesStoreOneEvent", func(t *testing.T) {
		body := stripeEvent("evt_concurrent", "invoice.paid")
		header := stripeSigned(time.Now().Unix(), body, stripeSecret)
		var wg sync.WaitGroup
		statuses := make(chan int, 50)
		for range 50 {
			wg.Go(func() {
				req, err := http.NewRequest(http.MethodPost, b.base+webhookPath("stripe", stripeEP), strings.NewReader(body))
				if err != nil {
					statuses <- 0
					return
				}
				req.Header = header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			require.Equal(t, http.StatusOK, s)
		}
		events, entries := b.countEvents(t, org, "evt_concurrent")
		require.Equal(t, 1, events)
		require.Equal(t, 1, entries)
	})

	t.Run("AFailedStoreAnswers500AndTheRetrySucceeds", func(t *testing.T) {
		b.adminExec(t, `ALTER TABLE billing_events ADD CONSTRAINT refuse_doomed_type CHECK (type <> 'test.doomed') NOT VALID`)
		body := stripeEvent("evt_doomed", "test.doomed")
		d := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		b.adminExec(t, `ALTER TABLE billing_events DROP CONSTRAINT refuse_doomed_type`)
		require.Equal(t, http.StatusInternalServerError, d.status)
		require.Empty(t, d.body)
		events, entries := b.countEvents(t, org, "evt_doomed")
		require.Equal(t, []int{0, 0}, []int{events, entries}, "nothing was stored")

		d = b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status, "the provider's retry succeeds")
		events, entries = b.countEvents(t, org, "evt_doomed")
		require.Equal(t, []int{1, 1}, []int{events, entries})
	})

	t.Run("AFailedAuditEntryRollsBackTheStoredEvent", func(t *testing.T) {
		b.adminExec(t, `ALTER TABLE audit_log ADD CONSTRAINT refuse_doomed_event CHECK (target_id <> 'evt_unaudited') NOT VALID`)
		body := stripeEvent("evt_unaudited", "invoice.paid")
		d := b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		b.adminExec(t, `ALTER TABLE audit_log DROP CONSTRAINT refuse_doomed_event`)
		require.Equal(t, http.StatusInternalServerError, d.status)
		events, entries := b.countEvents(t, org, "evt_unaudited")
		require.Equal(t, []int{0, 0}, []int{events, entries}, "the event row went with its entry")

		d = b.deliver(t, webhookPath("stripe", stripeEP), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status)
		events, entries = b.countEvents(t, org, "evt_unaudited")
		require.Equal(t, []int{1, 1}, []int{events, entries})
	})
}

// TestWebhookRefusals sends one delivery per refusal class and checks each
// answers the very same empty 401, stores nothing, and is told apart in the
// log and the metrics only.
func TestWebhookRefusals(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	other, _ := b.seedOrg(t, "globex", server.ScopeRead)
	stripeEP := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	clerkEP := b.seedEndpoint(t, org, endpointSeed{provider: "clerk", secrets: []string{clerkSecret}})
	disabledEP := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}, disabled: true})
	// An endpoint of another organization, reached through a route key of
	// this one: the tenant transaction cannot see its row.
	foreignEP := b.seedEndpoint(t, other, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}, routeOrg: org})
	// An endpoint whose route key was removed, as when it is disabled.
	unroutedEP := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}, noRoute: true})
	// An endpoint of a cancelled organization, which is read-only.
	cancelled, _ := b.seedOrg(t, "initech", server.ScopeRead)
	cancelledEP := b.seedEndpoint(t, cancelled, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	b.adminExec(t, `UPDATE organizations SET status = 'cancelled', cancelled_at = now() WHERE id = $1`, cancelled)

	body := stripeEvent("evt_refused", "invoice.paid")
	// Each header is made as its case is delivered, so that a signature
	// meant to be fresh, stale or early is so when the server checks it.
	signedAt := func(offset int64, body, secret string) func() http.Header {
		return func() http.Header { return stripeSigned(time.Now().Unix()+offset, body, secret) }
	}
	signed := signedAt(0, body, stripeSecret)
	withHeader := func(v string) func() http.Header {
		return func() http.Header {
			h := http.Header{}
			h.Set("Stripe-Signature", v)
			return h
		}
	}
	none := func() http.Header { return http.Header{} }
	cases := []struct {
		name, reason, path string
		header             func() http.Header
		body               string
	}{
		{"unknown endpoint", "unknown_endpoint", webhookPath("stripe", uuid.New()), signed, body},
		{"endpoint id not a UUID", "unknown_endpoint", "/webhooks/stripe/not-a-uuid", signed, body},
		{"endpoint id not in canonical form", "unknown_endpoint", "/webhooks/stripe/" + strings.ToUpper(stripeEP.String()), signed, body},
		{"endpoint without a route key", "unknown_endpoint", webhookPath("stripe", unroutedEP), signed, body},
		{"endpoint of another organization", "unknown_endpoint", webhookPath("stripe", foreignEP), signed, body},
		{"disabled endpoint", "disabled_endpoint", webhookPath("stripe", disabledEP), signed, body},
		{"endpoint of a cancelled organization", "organization_cancelled", webhookPath("stripe", cancelledEP), signed, body},
		{"unknown provider", "unknown_provider", webhookPath("paypal", stripeEP), signed, body},
		{"other provider in the path", "wrong_provider", webhookPath("clerk", stripeEP), signed, body},
		{"a Stripe delivery to a Clerk endpoint", "wrong_provider", webhookPath("stripe", clerkEP), signed, body},
		{"missing signature header", "missing_header", webhookPath("stripe", stripeEP), none, body},
		{"malformed signature header", "malformed_header", webhookPath("stripe", stripeEP), withHeader("t=abc,v1=zz"), body},
		{"wrong signature", "bad_signature", webhookPath("stripe", stripeEP), signedAt(0, body, "whsec_wrong"), body},
		{"body changed", "bad_signature", webhookPath("stripe", stripeEP), signed, strings.Replace(body, "invoice.paid", "invoice.void", 1)},
		{"stale timestamp", "stale_timestamp", webhookPath("stripe", stripeEP), signedAt(-301-5, body, stripeSecret), body},
		{"future timestamp", "future_timestamp", webhookPath("stripe", stripeEP), signedAt(301+5, body, stripeSecret), body},
		{"signed but no event", "malformed_event", webhookPath("stripe", stripeEP), signedAt(0, `{"object":"charge"}`, stripeSecret), `{"object":"charge"}`},
		{"missing svix headers", "missing_header", webhookPath("clerk", clerkEP), none, body},
	}
	var first http.Header
	for _, tc := range cases {
		header := tc.header()
		header.Set(server.RequestIDHeader, "same-request-id-for-every-refusal")
		d := b.deliver(t, tc.path, header, tc.body)
		require.Equal(t, http.StatusUnauthorized, d.status, tc.name)
		require.Empty(t, d.body, tc.name)
		d.header.Del("Date")
		if first == nil {
			first = d.header
		}
		require.Equal(t, first, d.header, "%s: the same headers whatever failed", tc.name)
		require.Contains(t, b.logs.String(), `"reason":"`+tc.reason+`"`, tc.name)
	}
	for _, o := range []uuid.UUID{org, other, cancelled} {
		events, entries := b.countEvents(t, o, "evt_refused")
		require.Equal(t, []int{0, 0}, []int{events, entries}, "a refusal stores nothing")
	}

	metrics, err := io.ReadAll(b.metrics(t).Body)
	require.NoError(t, err)
	counts := map[string]int{}
	for _, tc := range cases {
		provider := "stripe"
		if strings.HasPrefix(tc.path, "/webhooks/paypal/") {
			provider = "unknown"
		} else if strings.HasPrefix(tc.path, "/webhooks/clerk/") {
			provider = "clerk"
		}
		counts[fmt.Sprintf(`rekomi_webhook_refused_total{provider=%q,reason=%q}`, provider, tc.reason)]++
	}
	for series, n := range counts {
		require.Contains(t, string(metrics), series+" "+strconv.Itoa(n))
	}
	require.Contains(t, string(metrics), `rekomi_webhook_refused_total{provider="clerk",reason="stale_timestamp"} 0`, "every reason is counted from zero")
	require.NotContains(t, b.logs.String(), stripeSecret, "no secret is logged")
}

// TestWebhookSecretsThatDoNotOpen: secrets the server cannot open are its
// own failure, not the sender's, so it answers 500 and the provider retries.
func TestWebhookSecretsThatDoNotOpen(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	body := stripeEvent("evt_unopened", "invoice.paid")
	requireFailed := func(t *testing.T, b *bundle, ep uuid.UUID) {
		t.Helper()
		d := b.deliver(t, webhookPath("stripe", ep), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusInternalServerError, d.status)
		require.Empty(t, d.body)
		require.Contains(t, b.logs.String(), "Webhook delivery failed")
	}

	t.Run("SealedWithAnotherRing", func(t *testing.T) {
		t.Parallel()
		b := setupWebhooks(t, srv)
		org, _ := b.seedOrg(t, "acme", server.ScopeRead)
		ep := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
		other, err := keyring.Generate(rand.Reader)
		require.NoError(t, err)
		plain, err := json.Marshal([]string{stripeSecret})
		require.NoError(t, err)
		sealed, err := other.Encrypt(plain, []byte("webhook_endpoint:"+ep.String()))
		require.NoError(t, err)
		b.adminExec(t, `UPDATE webhook_endpoints SET secrets = $1 WHERE id = $2`, sealed, ep)
		requireFailed(t, b, ep)
	})

	t.Run("NoKeyRing", func(t *testing.T) {
		t.Parallel()
		ring, err := keyring.Generate(rand.Reader)
		require.NoError(t, err)
		b := setupWith(t, srv, nil)
		b.ring = ring
		org, _ := b.seedOrg(t, "acme", server.ScopeRead)
		requireFailed(t, b, b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}}))
	})
}
