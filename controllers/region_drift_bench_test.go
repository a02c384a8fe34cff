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

package controllers_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
	"github.com/rekomi/rekomi/controllers"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// driftClass is one way a superuser or the database owner breaks tenant
// isolation, and the statement that undoes it by hand.
type driftClass struct {
	name, drift, undo string
}

func driftClasses(runtimeRole string) []driftClass {
	runtime := pgx.Identifier{runtimeRole}.Sanitize()
	const scoped = "(org_id = (SELECT rekomi_current_org()))"
	return []driftClass{
		{"role_bypassrls", "ALTER ROLE " + runtime + " BYPASSRLS", "ALTER ROLE " + runtime + " NOBYPASSRLS"},
		{"rls_not_forced", "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY", "ALTER TABLE campaigns FORCE ROW LEVEL SECURITY"},
		{"rls_disabled", "ALTER TABLE clicks DISABLE ROW LEVEL SECURITY", "ALTER TABLE clicks ENABLE ROW LEVEL SECURITY"},
		{"policy_altered", "ALTER POLICY tenant_isolation ON commissions USING (true)",
			"ALTER POLICY tenant_isolation ON commissions USING " + scoped},
		{"policy_added", "CREATE POLICY peek ON affiliates FOR SELECT USING (true)", "DROP POLICY peek ON affiliates"},
		{"policy_dropped", "DROP POLICY tenant_isolation ON payouts",
			"CREATE POLICY tenant_isolation ON payouts USING " + scoped + " WITH CHECK " + scoped},
		{"grant_added", "GRANT SELECT ON customers TO PUBLIC", "REVOKE SELECT ON customers FROM PUBLIC"},
	}
}

// BenchmarkDrift breaks tenant isolation in each way of driftClasses under
// a Region's app, both with their defaults (the app checks its session every
// 5 s; the operator hears DDL through its event trigger and compares the
// catalog every 5 s). It reports, per class:
//
//   - fence/<class> s-to-fence: from the drift until the app refuses tenant
//     routes, with no operator running (undone by hand after each). The
//     drift is made as soon as the app serves again, right after one of its
//     checks, so this is the worst case: about one check interval;
//   - repair/<class> s-to-repair: with the operator running, from the drift
//     until the catalog is the schema's again; s-exposed: until the drift was
//     fenced or repaired, whichever came first.
func BenchmarkDrift(b *testing.B) {
	f := newRegionFixture(b, testEnv.adminURL)
	region := f.provision(b)
	database := region.Spec.Database.Name
	app := startRegionApp(b, f, region)
	classes := driftClasses(region.Spec.Database.RuntimeRole)

	for _, c := range classes {
		b.Run("fence/"+c.name, func(b *testing.B) {
			var total time.Duration
			runs := 0
			for b.Loop() {
				app.waitServing(b, true)
				start := time.Now()
				superExec(b, database, c.drift)
				app.waitServing(b, false)
				total += time.Since(start)
				runs++
				superExec(b, database, c.undo)
			}
			app.waitServing(b, true)
			b.ReportMetric(total.Seconds()/float64(runs), "s-to-fence")
		})
	}

	startRegionManager(b, f, region, controllers.DefaultDriftInterval)
	verifier := connectSuper(b, database)
	opts := isolation.Options{RuntimeRole: region.Spec.Database.RuntimeRole,
		PublicLookupTables: migrations.PublicLookupTables(), Policies: migrations.Policies()}
	for _, c := range classes {
		b.Run("repair/"+c.name, func(b *testing.B) {
			var repaired, exposed time.Duration
			runs := 0
			for b.Loop() {
				app.waitServing(b, true)
				start := time.Now()
				superExec(b, database, c.drift)
				r, e := waitRepaired(b, app, verifier, opts)
				repaired += r.Sub(start)
				exposed += e.Sub(start)
				runs++
			}
			app.waitServing(b, true)
			b.ReportMetric(repaired.Seconds()/float64(runs), "s-to-repair")
			b.ReportMetric(exposed.Seconds()/float64(runs), "s-exposed")
		})
	}
}

// waitRepaired polls until the catalog verifies against opts, and returns
// when it did and when the drift stopped being exposed: fenced by the app
// or repaired, whichever came first.
func waitRepaired(b *testing.B, app *regionApp, conn *pgx.Conn, opts isolation.Options) (repaired, exposedUntil time.Time) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		now := time.Now()
		if exposedUntil.IsZero() && !app.serving(b) {
			exposedUntil = now
		}
		report, err := isolation.Verify(context.Background(), conn, opts)
		require.NoError(b, err)
		if report.OK() {
			if exposedUntil.IsZero() {
				exposedUntil = now
			}
			return now, exposedUntil
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
	b.Fatal("the drift was not repaired within a minute")
	return
}

// regionApp is the Region's app, serving in this process as its runtime
// role with the default configuration.
type regionApp struct {
	base   string
	client *http.Client
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func startRegionApp(b *testing.B, f *regionFixture, region *v1.Region) *regionApp {
	b.Helper()
	runtime := f.secret(b, controllers.RuntimeSecretName(region.Name))
	database, err := db.Open(context.Background(), string(runtime.Data["url"]))
	require.NoError(b, err)
	b.Cleanup(database.Close)
	cfg := config.Defaults()
	cfg.DatabaseURL, cfg.Region, cfg.Location = string(runtime.Data["url"]), region.Name, string(region.Spec.Location)
	logs := &syncBuffer{}
	srv := server.New(cfg, database, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, metricsLn) }()
	b.Cleanup(func() {
		cancel()
		require.NoError(b, <-done)
	})
	return &regionApp{base: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 5 * time.Second}, logs: logs}
}

// serving reports whether /readyz answers 200.
func (a *regionApp) serving(b *testing.B) bool {
	b.Helper()
	resp, err := a.client.Get(a.base + "/readyz")
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitServing polls /readyz until it says want.
func (a *regionApp) waitServing(b *testing.B, want bool) {
	b.Helper()
	require.Eventually(b, func() bool { return a.serving(b) == want }, time.Minute, 5*time.Millisecond,
		"/readyz serving: %t; the app's warnings and errors:\n%s", want, a.logs)
}

// connectSuper connects as the test server's superuser to database.
func connectSuper(b *testing.B, database string) *pgx.Conn {
	b.Helper()
	conn, err := pgx.Connect(context.Background(), dbtest.WithDatabase(b, testEnv.adminURL, database))
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
