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

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/ledger"
)

// Audited-write benchmark shape: each worker writes as its own
// organization, as independent merchants do.
const (
	benchWorkers  = 8
	benchPerRound = 128
)

// createCampaignUnaudited is POST /v1/campaigns without its audit entry:
// the same decoding, validation, transaction and insert, and nothing else.
func (s *Server) createCampaignUnaudited(w http.ResponseWriter, r *http.Request) {
	c, ok := decodeCampaignCreate(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "creating a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		created, err := ledger.InsertCampaign(ctx, tx, p.OrgID, c)
		return http.StatusCreated, created, err
	})
}

// benchKeys seeds one organization with a write key per worker.
func benchKeys(b *testing.B, adminURL string) []string {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminURL)
	require.NoError(b, err)
	defer admin.Close(ctx)
	keys := make([]string, benchWorkers)
	for i := range keys {
		org, id := uuid.New(), uuid.New()
		key, prefix, err := apikey.Generate(rand.Reader)
		require.NoError(b, err)
		hash := apikey.Hash(key)
		_, err = admin.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, org, fmt.Sprintf("bench-%d", i))
		require.NoError(b, err)
		_, err = admin.Exec(ctx, `INSERT INTO api_keys (org_id, id, name, prefix, hash, scopes, created_by)
			VALUES ($1, $2, 'bench', $3, $4, '{read,write}', 'operator')`, org, id, prefix, hash[:])
		require.NoError(b, err)
		_, err = admin.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('api_key_prefix', $1, $2, $3)`, prefix, org, id)
		require.NoError(b, err)
		keys[i] = key
	}
	return keys
}

// BenchmarkAuditedWrites compares POST /v1/campaigns with its audit entry
// against the same insert without one, through the same server, alternating
// rounds of each in every iteration. It reports requests per second for
// both and their ratio (audited/unaudited; the goal is at least 0.8).
func BenchmarkAuditedWrites(b *testing.B) {
	srv := dbtest.Start(b)
	region := regiondb.New(b, srv)
	database, err := db.Open(context.Background(), region.RuntimeURL)
	require.NoError(b, err)
	defer database.Close()
	cfg := config.Defaults()
	cfg.Region, cfg.Location, cfg.RateLimit, cfg.RateBurst = "eu", "eu", 1e9, 1e9
	s := New(cfg, database, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	s.route("POST /bench/unaudited-campaigns", s.requireKey(ScopeWrite, s.idempotent(s.createCampaignUnaudited)))
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	keys := benchKeys(b, region.AdminURL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchWorkers}}

	var seq atomic.Int64
	round := func(path string) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for _, key := range keys {
			wg.Go(func() {
				for next.Add(1) <= benchPerRound {
					body := fmt.Sprintf(`{"name":"Campaign %d","currency":"EUR","commission":{"type":"percentage","percent_bps":1500}}`, seq.Add(1))
					if err := benchPost(client, ts.URL+path, key, body); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var audited, unaudited time.Duration
	first := true
	for b.Loop() {
		if first {
			audited += round("/v1/campaigns")
			unaudited += round("/bench/unaudited-campaigns")
		} else {
			unaudited += round("/bench/unaudited-campaigns")
			audited += round("/v1/campaigns")
		}
		first = !first
	}
	requests := float64(b.N * benchPerRound)
	b.ReportMetric(requests/audited.Seconds(), "audited-req/s")
	b.ReportMetric(requests/unaudited.Seconds(), "unaudited-req/s")
	b.ReportMetric(unaudited.Seconds()/audited.Seconds(), "audited/unaudited")
}

func benchPost(client *http.Client, url, key, body string) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s answered %d", url, resp.StatusCode)
	}
	return nil
}
