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
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/trust"
)

// fence closes the tenant routes while the app's own database session finds
// tenant isolation broken (a role that bypasses row-level security, a table
// whose RLS is off or unforced, a policy that is not the schema's), or
// cannot tell. It opens again by itself once a check passes.
//
// Cannot tell comes in two kinds. A database that cannot be asked at all
// (down, unreachable, refusing the login) leaves the redirects open: they
// are answered from the link cache and read no tenant row, and their clicks
// wait in the batcher; every other tenant route needs the database and is
// refused with Retry-After, and the replica stays ready, since an outage
// all replicas share is no reason to take them out of the Service. Any
// other failure counts as a finding.
type fence struct {
	check    func(context.Context) error
	interval time.Duration
	log      *slog.Logger
	// finding is why the fence is closed; nil while it is open.
	finding atomic.Pointer[string]
	// unreachable is why the last check could not ask the database; nil
	// once one could. The fence is closed while either is set.
	unreachable atomic.Pointer[string]
	// last is the outcome of the latest finished check, as /trust shows
	// it; nil before the first.
	last   atomic.Pointer[trust.IsolationCheck]
	now    func() time.Time
	closed prometheus.Gauge
	checks *prometheus.CounterVec
}

func newFence(check func(context.Context) error, interval time.Duration, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) *fence {
	f := &fence{check: check, interval: interval, log: log, now: now,
		closed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rekomi_isolation_fenced", Help: "1 while tenant routes are refused because tenant isolation is not verified.",
		}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rekomi_isolation_checks_total", Help: "Checks of tenant isolation by this replica, by outcome.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(f.closed, f.checks)
	return f
}

// run checks at once, then every interval, until ctx is done.
func (f *fence) run(ctx context.Context) {
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for {
		f.checkOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkTimeout bounds one check: a database that does not answer within it
// closes the fence.
const checkTimeout = 5 * time.Second

// checkOnce runs one check and closes or opens the fence by its outcome.
func (f *fence) checkOnce(ctx context.Context) {
	checkCtx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := f.check(checkCtx)
	if ctx.Err() != nil {
		return // shutting down: the outcome says nothing
	}
	if err != nil && db.Unreachable(err) {
		f.checks.WithLabelValues("unreachable").Inc()
		reason := err.Error()
		if prev := f.unreachable.Swap(&reason); prev == nil {
			f.log.Warn("Cannot check tenant isolation, the database is unreachable: serving redirects from the link cache only", "error", reason)
		}
		f.closed.Set(1)
		f.record(trust.CheckUnreachable, "the database could not be reached")
		return
	}
	f.unreachable.Store(nil)
	if err != nil {
		f.checks.WithLabelValues("violated").Inc()
		finding := err.Error()
		if prev := f.finding.Swap(&finding); prev == nil || *prev != finding {
			f.log.Error("Tenant isolation broken: refusing tenant routes", "finding", finding)
		}
		f.closed.Set(1)
		f.record(trust.CheckViolated, publicFinding(err))
		return
	}
	f.checks.WithLabelValues("verified").Inc()
	if prev := f.finding.Swap(nil); prev != nil {
		f.log.Info("Tenant isolation verified again: serving tenant routes", "was", *prev)
	}
	f.closed.Set(0)
	f.record(trust.CheckVerified, "")
}

// publicFinding is what /trust may say of a failed check: the isolation
// verifier's findings, which name tables, policies and roles of the
// schema, or the schema's version; never another error's text, which may
// carry a host, a user or a driver's message.
func publicFinding(err error) string {
	if errors.Is(err, db.ErrUnsafe) || errors.Is(err, db.ErrSchemaOlder) {
		return err.Error()
	}
	return "the check could not finish; the app's log says why"
}

// record keeps a check's outcome for /trust.
func (f *fence) record(outcome, finding string) {
	at := f.now().UTC()
	f.last.Store(&trust.IsolationCheck{Outcome: outcome, CheckedAt: &at, Finding: finding, IntervalSeconds: f.intervalSeconds()})
}

// latest is the outcome of the latest finished check.
func (f *fence) latest() trust.IsolationCheck {
	if c := f.last.Load(); c != nil {
		return *c
	}
	return trust.IsolationCheck{Outcome: trust.CheckPending, IntervalSeconds: f.intervalSeconds()}
}

// intervalSeconds is the interval in whole seconds, as /trust states it.
func (f *fence) intervalSeconds() int { return int(f.interval.Round(time.Second) / time.Second) }

// isClosed reports whether tenant routes are refused.
func (f *fence) isClosed() bool { return f.finding.Load() != nil || f.unreachable.Load() != nil }

// violated reports whether the last check that could ask the database
// found isolation broken.
func (f *fence) violated() bool { return f.finding.Load() != nil }

// opens reports whether r passes a closed fence: the unfenced routes
// always, and the redirects while the fence is closed only because the
// database is unreachable.
func (f *fence) opens(r *http.Request) bool {
	if slices.Contains(unfenced, r.URL.Path) {
		return true
	}
	return !f.violated() && strings.HasPrefix(r.URL.Path, redirectPathPrefix)
}

// unfenced are the routes served while the fence is closed: probes, the
// API description and the /trust page, which touch no tenant data (and
// /trust must say why the fence is closed).
var unfenced = []string{"/healthz", "/readyz", "/openapi.json", "/trust", "/trust.json", "/trust.css"}

// fenced refuses every route but the unfenced ones while the fence is
// closed: 503 with Retry-After, a problem document for people and API
// clients, and for webhooks an empty body, so that the provider retries and
// no event is lost. What was found is logged, never answered.
func (s *Server) fenced(next http.Handler) http.Handler {
	retry := strconv.Itoa(max(1, s.fence.intervalSeconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.fence.isClosed() || s.fence.opens(r) {
			next.ServeHTTP(w, r)
			return
		}
		_, r.Pattern = s.mux.Handler(r) // counted and logged by the route refused
		w.Header().Set("Retry-After", retry)
		if strings.HasPrefix(r.URL.Path, webhookPathPrefix) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		writeProblem(w, r, Problem{Type: "isolation_unverified", Title: "Tenant isolation is being verified; try again shortly",
			Status: http.StatusServiceUnavailable})
	})
}
