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
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
)

// Redirect benchmark shape: browsers on keep-alive connections.
const (
	redirectWorkers  = 16
	redirectPerRound = 4000
)

// benchLink seeds an organization with a link and returns its code.
func benchLink(b *testing.B, adminURL string) (code string, link uuid.UUID) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminURL)
	require.NoError(b, err)
	defer admin.Close(ctx)
	org := uuid.New()
	code = "bench-" + org.String()[:8]
	var affiliate, campaign uuid.UUID
	_, err = admin.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, 'bench-redirects', 'Bench', 'pro')`, org)
	require.NoError(b, err)
	require.NoError(b, admin.QueryRow(ctx, `INSERT INTO affiliates (org_id, email, status) VALUES ($1, 'a@bench.example', 'active')
		RETURNING id`, org).Scan(&affiliate))
	require.NoError(b, admin.QueryRow(ctx, `INSERT INTO campaigns (org_id, name, currency, commission_type, commission_bps)
		VALUES ($1, 'bench', 'EUR', 'percentage', 1000) RETURNING id`, org).Scan(&campaign))
	require.NoError(b, admin.QueryRow(ctx, `INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
		VALUES ($1, $2, $3, $4, 'https://shop.example.com/pricing') RETURNING id`, org, affiliate, campaign, code).Scan(&link))
	_, err = admin.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('link_code', $1, $2, $3)`, code, org, link)
	require.NoError(b, err)
	return code, link
}

// bareRedirect answers what /r/{code} answers, and records nothing.
func bareRedirect(location string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: visitorCookie, Value: uuid.NewString(), Path: "/", MaxAge: 60 * 86400,
			HttpOnly: true, SameSite: http.SameSiteLaxMode})
		w.Header().Set("Location", location)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
		w.WriteHeader(http.StatusFound)
	})
}

// redirectRound sends redirectPerRound GETs to url from redirectWorkers
// workers and returns how long it took and each request's latency.
func redirectRound(b *testing.B, client *http.Client, url string) (time.Duration, []time.Duration) {
	var next atomic.Int64
	latencies := make([]time.Duration, redirectPerRound)
	var wg sync.WaitGroup
	start := time.Now()
	for range redirectWorkers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < redirectPerRound; i = next.Add(1) - 1 {
				t0 := time.Now()
				if err := benchGet(client, url); err != nil {
					b.Error(err)
					return
				}
				latencies[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return time.Since(start), latencies
}

func benchGet(client *http.Client, url string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("GET %s answered %d", url, resp.StatusCode)
	}
	return nil
}

func p99(latencies []time.Duration) time.Duration {
	slices.Sort(latencies)
	return latencies[len(latencies)*99/100]
}

// BenchmarkRedirects compares GET /r/{code} through the whole server, with
// its middleware and click recording, against a bare net/http handler
// answering the same 302 and recording nothing, both on loopback, in
// alternating rounds. It reports redirects per second and p99 latency of
// each and their throughput ratio (the goal is at least 0.7), and fails
// unless every redirect answered has its click stored once the server has
// shut down.
func BenchmarkRedirects(b *testing.B) {
	srv := dbtest.Start(b)
	region := regiondb.New(b, srv)
	database, err := db.Open(context.Background(), region.RuntimeURL)
	require.NoError(b, err)
	defer database.Close()
	cfg := config.Defaults()
	cfg.Region, cfg.Location = "us", "us"
	s := New(cfg, database, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	code, link := benchLink(b, region.AdminURL)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, metricsLn) }()
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	bare := &http.Server{Handler: bareRedirect("https://shop.example.com/pricing?ref=" + code), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = bare.Serve(bareLn) }()
	defer bare.Close()

	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: redirectWorkers},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	appURL, bareURL := "http://"+ln.Addr().String()+"/r/"+code, "http://"+bareLn.Addr().String()+"/r/"+code
	require.NoError(b, benchGet(client, appURL)) // warm the link cache
	var recorded, plain time.Duration
	var recordedLat, plainLat []time.Duration
	round := func(url string, total *time.Duration, lat *[]time.Duration) {
		d, l := redirectRound(b, client, url)
		*total += d
		*lat = append(*lat, l...)
	}
	first := true
	for b.Loop() {
		if first {
			round(appURL, &recorded, &recordedLat)
			round(bareURL, &plain, &plainLat)
		} else {
			round(bareURL, &plain, &plainLat)
			round(appURL, &recorded, &recordedLat)
		}
		first = !first
	}
	b.StopTimer()
	stop()
	require.NoError(b, <-served)
	answered := len(recordedLat) + 1
	var stored int
	admin, err := pgx.Connect(context.Background(), region.AdminURL)
	require.NoError(b, err)
	defer admin.Close(context.Background())
	require.NoError(b, admin.QueryRow(context.Background(), `SELECT count(*) FROM clicks WHERE link_id = $1`, link).Scan(&stored))
	if stored != answered {
		b.Fatalf("%d redirects answered but %d clicks stored", answered, stored)
	}
	requests := float64(b.N * redirectPerRound)
	b.ReportMetric(requests/recorded.Seconds(), "redirects/s")
	b.ReportMetric(requests/plain.Seconds(), "bare-redirects/s")
	b.ReportMetric(float64(p99(recordedLat).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(p99(plainLat).Microseconds())/1000, "bare-p99-ms")
	b.ReportMetric(plain.Seconds()/recorded.Seconds(), "redirects/bare")
	b.ReportMetric(float64(stored), "clicks-stored")
}
