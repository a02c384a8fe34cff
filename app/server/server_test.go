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
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
	"github.com/rekomi/rekomi/app/server"
)

// lockedBuffer collects the server's log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testClock is a clock for server.WithClock that moves only when told to.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// bundle is a running server as the runtime role of a migrated Region.
type bundle struct {
	base string
	// metricsBase serves /metrics, on a listener of its own.
	metricsBase string
	logs        *lockedBuffer
	db          *db.DB
	region      *regiondb.DB
	// seed writes organizations and their ledger rows as the operator and
	// the runtime role do.
	seed   *ledgertest.Region
	cancel context.CancelFunc
	done   chan error
	// ring is the server's key ring when setup drew it, so a test can seal
	// audit entries as the server does; nil after setupWith.
	ring *keyring.KeyRing
}

// setup runs a server with a key ring of its own.
func setup(t testing.TB, srv *dbtest.Server, mutate ...func(*config.Config)) *bundle {
	t.Helper()
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	b := setupWith(t, srv, []server.Option{server.WithKeyRing(ring)}, mutate...)
	b.ring = ring
	return b
}

// setupWith is setup with options for server.New.
func setupWith(t testing.TB, srv *dbtest.Server, opts []server.Option, mutate ...func(*config.Config)) *bundle {
	t.Helper()
	ctx := context.Background()
	region := regiondb.New(t, srv)
	seed := ledgertest.Open(t, region)
	database := seed.DB

	cfg := config.Defaults()
	cfg.MaxBodyBytes = 64
	cfg.Region, cfg.Location = "eu", "eu"
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &lockedBuffer{}
	s := server.New(cfg, database, slog.New(slog.NewJSONHandler(logs, nil)), opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	b := &bundle{base: "http://" + ln.Addr().String(), metricsBase: "http://" + metricsLn.Addr().String(),
		logs: logs, db: database, region: region, seed: seed, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- s.Serve(runCtx, ln, metricsLn) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-b.done)
	})
	return b
}

// org is organization id of the bundle's Region, to seed and count its
// rows with.
func (b *bundle) org(id uuid.UUID) ledgertest.Org {
	return ledgertest.Org{Region: b.seed, ID: id}
}

// metrics reads GET /metrics from the metrics listener.
func (b *bundle) metrics(t *testing.T) *http.Response {
	t.Helper()
	resp, err := http.Get(b.metricsBase + "/metrics")
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp
}

func (b *bundle) get(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServer(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)

	t.Run("HealthAndReadiness", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		require.Equal(t, http.StatusOK, b.get(t, "/healthz").StatusCode)
		require.Equal(t, http.StatusOK, b.get(t, "/readyz").StatusCode)
	})

	t.Run("ReadyWithoutTheDatabase", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		b.db.Close()
		// An outage every replica shares takes none out of the Service:
		// the fence answers what needs the database with Retry-After.
		require.Equal(t, http.StatusOK, b.get(t, "/readyz").StatusCode)
		require.Equal(t, http.StatusOK, b.get(t, "/healthz").StatusCode, "liveness does not depend on the database")
	})

	t.Run("UnknownRouteIsAProblem", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		resp := b.get(t, "/v1/nothing-here")
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		var p server.Problem
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		require.Equal(t, "urn:rekomi:problem:not_found", p.Type)
		require.Equal(t, http.StatusNotFound, p.Status)
		require.Equal(t, "/v1/nothing-here", p.Instance)
		require.Equal(t, resp.Header.Get(server.RequestIDHeader), p.RequestID)
	})

	t.Run("RequestIDsAreKeptOrMade", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		require.Equal(t, "client-chosen-id-42", b.get(t, "/healthz", server.RequestIDHeader, "client-chosen-id-42").Header.Get(server.RequestIDHeader))
		made := b.get(t, "/healthz", server.RequestIDHeader, "bad id with spaces").Header.Get(server.RequestIDHeader)
		require.True(t, strings.HasPrefix(made, "req_"), made)
		require.Contains(t, b.logs.String(), `"request_id":"client-chosen-id-42"`, "the access log carries the id")
		require.Contains(t, b.logs.String(), `"route":"GET /healthz"`)
	})

	t.Run("OversizeBodyIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		resp, err := http.Post(b.base+"/healthz", "application/json", strings.NewReader(strings.Repeat("x", 65)))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	})

	t.Run("MetricsAreServedOnTheirOwnPortOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		public := b.get(t, "/metrics")
		require.Equal(t, http.StatusNotFound, public.StatusCode, "the public port serves no metrics")
		body, err := io.ReadAll(public.Body)
		require.NoError(t, err)
		require.NotContains(t, string(body), "rekomi_", "the public 404 tells nothing of them")
		resp, err := http.Get(b.metricsBase + "/healthz")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "the metrics port serves nothing else")
		require.Equal(t, http.StatusOK, b.metrics(t).StatusCode)
	})

	t.Run("MetricsCountRequestsByRouteAndStatus", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		b.get(t, "/healthz")
		b.get(t, "/nowhere")
		body, err := io.ReadAll(b.metrics(t).Body)
		require.NoError(t, err)
		text := string(body)
		require.Contains(t, text, `rekomi_http_requests_total{route="GET /healthz",status="200"} 1`)
		require.Contains(t, text, `rekomi_http_requests_total{route="unmatched",status="404"} 1`)
		require.Contains(t, text, "rekomi_http_request_duration_seconds_bucket")
		require.Contains(t, text, "rekomi_db_pool_connections_max")
	})

	t.Run("ShutdownStopsServing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		require.Equal(t, http.StatusOK, b.get(t, "/healthz").StatusCode)
		b.cancel()
		select {
		case err := <-b.done:
			require.NoError(t, err)
			b.done <- nil // for the cleanup
		case <-time.After(30 * time.Second):
			t.Fatal("the server did not stop")
		}
		_, err := http.Get(b.base + "/healthz")
		require.Error(t, err, "no longer listening")
		require.Contains(t, b.logs.String(), "draining in-flight requests")
	})
}
