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
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/webhook"
)

const benchStripeSecret = "whsec_bench0123456789"

// benchEndpoint is one organization's Stripe endpoint.
type benchEndpoint struct{ org, id uuid.UUID }

// seedWebhookBench writes one organization with a Stripe endpoint per
// worker, as independent merchants.
func seedWebhookBench(b *testing.B, adminURL string, ring *keyring.KeyRing) []benchEndpoint {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminURL)
	require.NoError(b, err)
	defer admin.Close(ctx)
	plain, err := json.Marshal([]string{benchStripeSecret})
	require.NoError(b, err)
	eps := make([]benchEndpoint, benchWorkers)
	for i := range eps {
		ep := benchEndpoint{org: uuid.New(), id: uuid.New()}
		sealed, err := ring.Encrypt(plain, webhook.SecretsAAD(ep.id))
		require.NoError(b, err)
		_, err = admin.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, ep.org, fmt.Sprintf("bench-%d", i))
		require.NoError(b, err)
		_, err = admin.Exec(ctx, `INSERT INTO webhook_endpoints (org_id, id, name, provider, secrets) VALUES ($1, $2, 'bench/stripe', 'stripe', $3)`, ep.org, ep.id, sealed)
		require.NoError(b, err)
		_, err = admin.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('webhook_endpoint', $1, $2, $3)`, ep.id.String(), ep.org, ep.id)
		require.NoError(b, err)
		eps[i] = ep
	}
	return eps
}

// startWebhookBench serves a server with a key ring, as the Region's
// runtime role, over HTTP until b ends, with the endpoints of
// seedWebhookBench.
func startWebhookBench(b *testing.B) (*db.DB, *httptest.Server, []benchEndpoint) {
	region := regiondb.New(b, dbtest.Start(b))
	database, err := db.Open(context.Background(), region.RuntimeURL)
	require.NoError(b, err)
	b.Cleanup(database.Close)
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(b, err)
	cfg := config.Defaults()
	cfg.Region, cfg.Location = "eu", "eu"
	s := New(cfg, database, slog.New(slog.NewJSONHandler(io.Discard, nil)), WithKeyRing(ring))
	ts := httptest.NewServer(s.Handler())
	b.Cleanup(ts.Close)
	return database, ts, seedWebhookBench(b, region.AdminURL, ring)
}

// benchStripeEvent is a Stripe event of type typ (invoice.paid makes a sale;
// payment_intent.created has no effect) carrying an invoice.
func benchStripeEvent(id, typ string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2025-01-27.acacia","type":%q,"data":{"object":{"id":"in_1","object":"invoice","amount_paid":4900,"currency":"eur","customer":"cus_1"}}}`, id, typ)
}

// benchDeliver posts a Stripe delivery of event id of type typ to the
// endpoint, signed now.
func benchDeliver(client *http.Client, base string, ep benchEndpoint, id, typ string) error {
	body := benchStripeEvent(id, typ)
	now := time.Now()
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/stripe/"+ep.id.String(), strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%x", now.Unix(), stripewebhook.ComputeSignature(now, body, benchStripeSecret)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("delivery of %s answered %d", id, resp.StatusCode)
	}
	return nil
}

// BenchmarkWebhooks measures Stripe deliveries through the whole route
// (read, verify, store, apply and audit) for new events and for replays,
// against a bare INSERT INTO billing_events ... ON CONFLICT DO NOTHING in a
// tenant transaction, with the same workers, alternating the four in every
// iteration. New events are invoice.paid, which records a sale, and
// ("plain") payment_intent.created, which has no effect but is stored and
// audited. It reports each per second, new deliveries / bare inserts (the
// goal is at least 0.6) and replays / bare inserts. A new delivery also
// appends its audit entry, which BenchmarkAuditedWrites prices on its own.
func BenchmarkWebhooks(b *testing.B) {
	database, ts, eps := startWebhookBench(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers}}
	for w, ep := range eps {
		require.NoError(b, benchDeliver(client, ts.URL, ep, fmt.Sprintf("evt_replayed_%d", w), "invoice.paid"))
	}

	var seq atomic.Int64
	round := func(do func(ep benchEndpoint, w int) error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w, ep := range eps {
			wg.Go(func() {
				for next.Add(1) <= benchPerRound {
					if err := do(ep, w); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	deliverNew := func(ep benchEndpoint, _ int) error {
		return benchDeliver(client, ts.URL, ep, fmt.Sprintf("evt_new_%d", seq.Add(1)), "invoice.paid")
	}
	deliverPlain := func(ep benchEndpoint, _ int) error {
		return benchDeliver(client, ts.URL, ep, fmt.Sprintf("evt_plain_%d", seq.Add(1)), "payment_intent.created")
	}
	replay := func(ep benchEndpoint, w int) error {
		return benchDeliver(client, ts.URL, ep, fmt.Sprintf("evt_replayed_%d", w), "invoice.paid")
	}
	bare := func(ep benchEndpoint, _ int) error {
		id := fmt.Sprintf("evt_bare_%d", seq.Add(1))
		ctx := context.Background()
		return database.TenantTx(ctx, ep.org, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO billing_events (org_id, endpoint_id, provider, event_id, type, payload)
				VALUES ($1, $2, 'stripe', $3, 'invoice.paid', $4) ON CONFLICT (org_id, provider, event_id) DO NOTHING`,
				ep.org, ep.id, id, benchStripeEvent(id, "invoice.paid"))
			return err
		})
	}
	sides := []func(benchEndpoint, int) error{deliverNew, replay, bare, deliverPlain}
	var took [4]time.Duration
	turn := 0
	for b.Loop() {
		for i := range sides {
			side := (turn + i) % len(sides)
			took[side] += round(sides[side])
		}
		turn++
	}
	requests := float64(b.N * benchPerRound)
	b.ReportMetric(requests/took[0].Seconds(), "new-deliveries/s")
	b.ReportMetric(requests/took[1].Seconds(), "replays/s")
	b.ReportMetric(requests/took[2].Seconds(), "bare-inserts/s")
	b.ReportMetric(took[2].Seconds()/took[0].Seconds(), "new-deliveries/bare-inserts")
	b.ReportMetric(took[2].Seconds()/took[1].Seconds(), "replays/bare-inserts")
	b.ReportMetric(requests/took[3].Seconds(), "new-plain-deliveries/s")
	b.ReportMetric(took[2].Seconds()/took[3].Seconds(), "new-plain-deliveries/bare-inserts")
}
