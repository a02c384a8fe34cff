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

// Package server is the HTTP front of `rekomi app`: the router, the
// middleware every request goes through (request id, body limit, JSON access
// log, Prometheus metrics, panic recovery), problem+json errors, health and
// readiness, a graceful shutdown that drains in-flight requests, and the
// API's handlers and the webhook receiver; it mounts the admin pages of
// package admin under /admin. It holds no business rule: a handler decodes
// and validates the request, calls one app/ledger verb in the principal's
// tenant transaction and answers; a verified provider event takes effect
// through app/billing. It reaches tenant data only through app/db.
package server

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/billing"
	"github.com/rekomi/rekomi/app/clicks"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server/ratelimit"
)

// Server holds the app's routes and what they need.
type Server struct {
	cfg     config.Config
	db      *db.DB
	log     *slog.Logger
	metrics *metrics
	limits  *ratelimit.Limits[uuid.UUID]
	ring    *keyring.KeyRing
	// answers seals stored idempotent answers: the Region's key ring, or
	// without one a ring drawn for this process.
	answers *keyring.KeyRing
	// sealer seals the personal fields of audit entries under each
	// organization's data key, itself sealed with the answers ring.
	sealer *audit.Sealer
	// effects makes verified provider events' effects.
	effects *billing.Effects
	mux     *http.ServeMux
	routes  []string
	// metricsMux serves /metrics, on a listener of its own.
	metricsMux *http.ServeMux
	// stripe builds and holds each organization's Stripe Connect provider,
	// from the key sealed in its row.
	stripe stripeProviders
	// links caches what referral codes resolve to; clicks stores the
	// clicks on them, in batches, while Serve runs.
	links       *linkCache
	clicks      *clicks.Batcher
	clickTuning clicks.Options

	// webhooks count webhook deliveries; decoy is refused for an endpoint
	// id that names none, doing what a known endpoint's refusal does.
	webhooks *webhookMetrics
	decoy    *decoyEndpoint
	// fence refuses tenant routes while isolation does not verify.
	fence *fence
	// chains checks the witnessed audit chains for /trust; trust issues
	// the Region's signed statement.
	chains chainCheck
	trust  trustIssuer

	// now is the clock the link cache's expiry and the rate limits read.
	now func() time.Time
}

// Option sets an optional dependency of the server.
type Option func(*Server)

// WithKeyRing gives the server the Region's key ring, from which the admin
// pages derive the keys that sign their sessions. Without it, those keys
// are random per process: every admin session ends when the process does,
// and a session opened on one replica is refused by the others.
func WithKeyRing(ring *keyring.KeyRing) Option {
	return func(s *Server) { s.ring = ring }
}

// WithClickBatching tunes how clicks are batched (the defaults are those of
// package clicks); IP truncation always follows the Region's location.
func WithClickBatching(opts clicks.Options) Option {
	return func(s *Server) { s.clickTuning = opts }
}

// processKeyRing is a key ring of one random key, for a server given none.
func processKeyRing() *keyring.KeyRing {
	ring, err := keyring.Generate(rand.Reader)
	if err != nil {
		// crypto/rand does not fail on a supported platform.
		panic(fmt.Sprintf("drawing a process key ring: %v", err))
	}
	return ring
}

// openAPIDocument is the OpenAPI 3.1 description of every route, served at
// GET /openapi.json.
//
//go:embed openapi.json
var openAPIDocument []byte

// New builds the server and its routes.
func New(cfg config.Config, database *db.DB, log *slog.Logger, opts ...Option) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{cfg: cfg, db: database, log: log, metrics: newMetrics(reg, database), webhooks: newWebhookMetrics(reg),
		limits: ratelimit.New[uuid.UUID](cfg.RateLimit, cfg.RateBurst), mux: http.NewServeMux(),
		now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.stripe.build == nil {
		s.stripe.build = defaultStripeBuilder(cfg.StripeAPIURL)
	}
	s.metricsMux = http.NewServeMux()
	s.metricsMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.links = newLinkCache(cfg.LinkCacheSize, cfg.LinkCacheTTL)
	s.clickTuning.TruncateIPs = cfg.Location == "eu"
	s.clicks = clicks.New(database, log, reg, s.clickTuning)
	s.decoy = newDecoyEndpoint(s.ring)
	interval := cfg.IsolationCheckInterval
	if interval <= 0 {
		interval = config.Defaults().IsolationCheckInterval
	}
	s.fence = newFence(func(ctx context.Context) error {
		_, err := database.CheckIsolation(ctx)
		return err
	}, interval, log, reg, func() time.Time { return s.now() })
	s.chains.s = s
	if s.chains.interval <= 0 {
		s.chains.interval = chainCheckInterval
	}
	s.answers = s.ring
	if s.answers == nil {
		s.answers = processKeyRing()
		log.Warn("No key ring given: stored idempotent answers and the data keys of audit entries are sealed with a key of this process and cannot be opened by another")
	}
	s.sealer = audit.NewSealer(s.answers, audit.DefaultCachedKeys)
	s.initTrust()
	s.effects = billing.New(s.sealer, log)
	s.route("GET /healthz", http.HandlerFunc(s.healthz))
	s.route("GET /readyz", http.HandlerFunc(s.readyz))
	s.route("GET /openapi.json", http.HandlerFunc(s.openAPI))
	s.route(redirectRoute, http.HandlerFunc(s.redirect))
	s.route("POST /v1/api-keys", s.requireKey(ScopeWrite, s.idempotent(s.createAPIKey)))
	s.route("GET /v1/api-keys", s.requireKey(ScopeRead, s.listAPIKeys))
	s.route("GET /v1/api-keys/{id}", s.requireKey(ScopeRead, s.getAPIKey))
	s.route("DELETE /v1/api-keys/{id}", s.requireKey(ScopeWrite, s.revokeAPIKey))
	s.route("GET /v1/audit-log", s.requireKey(ScopeRead, s.listAuditLog))
	s.route("GET /v1/audit-log/verify", s.requireKey(ScopeRead, s.verifyAuditLog))
	s.route("GET /v1/audit-log/export.csv", s.requireKey(ScopeRead, s.exportAuditLog))
	s.route("POST /v1/campaigns", s.requireKey(ScopeWrite, s.idempotent(s.createCampaign)))
	s.route("GET /v1/campaigns", s.requireKey(ScopeRead, s.listCampaigns))
	s.route("GET /v1/campaigns/{id}", s.requireKey(ScopeRead, s.getCampaign))
	s.route("PATCH /v1/campaigns/{id}", s.requireKey(ScopeWrite, s.updateCampaign))
	s.route("POST /v1/campaigns/{id}/archive", s.requireKey(ScopeWrite, s.idempotent(s.archiveCampaign)))
	s.route("POST /v1/copilot/actions", s.requireKey(ScopeWrite, s.idempotent(s.recordCopilotAction)))
	s.route("GET /v1/export", s.requireKey(ScopeRead, s.exportOrganization))
	s.route("POST /v1/affiliates", s.requireKey(ScopeWrite, s.idempotent(s.createAffiliate)))
	s.route("GET /v1/affiliates", s.requireKey(ScopeRead, s.listAffiliates))
	s.route("POST /v1/affiliates/accept", s.requireKey(ScopeWrite, s.idempotent(s.acceptInvite)))
	s.route("GET /v1/affiliates/{id}", s.requireKey(ScopeRead, s.getAffiliate))
	s.route("PATCH /v1/affiliates/{id}", s.requireKey(ScopeWrite, s.updateAffiliate))
	s.route("POST /v1/affiliates/{id}/approve", s.requireKey(ScopeWrite, s.idempotent(s.approveAffiliate)))
	s.route("POST /v1/affiliates/{id}/suspend", s.requireKey(ScopeWrite, s.idempotent(s.suspendAffiliate)))
	s.route("POST /v1/affiliates/{id}/invite", s.requireKey(ScopeWrite, s.idempotent(s.reinviteAffiliate)))
	s.route("POST /v1/links", s.requireKey(ScopeWrite, s.idempotent(s.createLink)))
	s.route("GET /v1/links", s.requireKey(ScopeRead, s.listLinks))
	s.route("GET /v1/links/{id}", s.requireKey(ScopeRead, s.getLink))
	s.route("PATCH /v1/links/{id}", s.requireKey(ScopeWrite, s.updateLink))
	s.route("POST /v1/links/{id}/disable", s.requireKey(ScopeWrite, s.idempotent(s.disableLink)))
	s.route("POST /v1/promo-codes", s.requireKey(ScopeWrite, s.idempotent(s.createPromoCode)))
	s.route("GET /v1/promo-codes", s.requireKey(ScopeRead, s.listPromoCodes))
	s.route("GET /v1/promo-codes/{id}", s.requireKey(ScopeRead, s.getPromoCode))
	s.route("PATCH /v1/promo-codes/{id}", s.requireKey(ScopeWrite, s.updatePromoCode))
	s.route("POST /v1/promo-codes/{id}/disable", s.requireKey(ScopeWrite, s.idempotent(s.disablePromoCode)))
	s.route("POST /v1/track/lead", s.requireKey(ScopeWrite, s.idempotent(s.trackLead)))
	s.route("POST /v1/track/sale", s.requireKey(ScopeWrite, s.idempotent(s.trackSale)))
	s.route("GET /v1/customers", s.requireKey(ScopeRead, s.listCustomers))
	s.route("GET /v1/customers/{id}", s.requireKey(ScopeRead, s.getCustomer))
	s.route("GET /v1/conversions", s.requireKey(ScopeRead, s.listConversions))
	s.route("GET /v1/conversions/{id}", s.requireKey(ScopeRead, s.getConversion))
	s.route("GET /v1/commissions", s.requireKey(ScopeRead, s.listCommissions))
	s.route("GET /v1/commissions/{id}", s.requireKey(ScopeRead, s.getCommission))
	s.route("POST /v1/commissions/{id}/reverse", s.requireKey(ScopeWrite, s.idempotent(s.reverseCommission)))
	s.route("POST /v1/payouts", s.requireKey(ScopeWrite, s.idempotent(s.createPayout)))
	s.route("GET /v1/payouts", s.requireKey(ScopeRead, s.listPayouts))
	s.route("GET /v1/payouts/{id}", s.requireKey(ScopeRead, s.getPayout))
	s.route("POST /v1/payouts/{id}/dispatch", s.requireKey(ScopeWrite, s.idempotent(s.dispatchPayout)))
	s.route("POST /webhooks/{provider}/{endpoint_id}", http.HandlerFunc(s.receiveWebhook))
	s.routeAdmin()
	s.routeTrust()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, Problem{Type: "not_found", Title: "No such route", Status: http.StatusNotFound})
	})
	return s
}

// route registers h for pattern, a "METHOD /path" pattern, and records it.
func (s *Server) route(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// Routes returns the "METHOD /path" pattern of every route, sorted; the
// catch-all 404 is not one of them.
func (s *Server) Routes() []string {
	routes := slices.Clone(s.routes)
	slices.Sort(routes)
	return routes
}

// Handler is the router wrapped in the middleware. Clicks on referral
// links are stored only while Serve runs; through Handler alone they wait in
// the bounded click buffers.
func (s *Server) Handler() http.Handler {
	return s.requestID(s.strictTransport(s.recoverPanics(s.observe(s.limitBody(s.fenced(s.mux))))))
}

// MetricsHandler serves GET /metrics (Prometheus) and nothing else. It is
// for a listener of its own, which nothing outside the cluster reaches:
// the public Handler does not serve it.
func (s *Server) MetricsHandler() http.Handler { return s.metricsMux }

// Serve answers on ln, and serves the metrics on metricsLn, until ctx is
// done, then stops taking connections, waits for in-flight requests, and
// stores every click they recorded, all within the shutdown timeout. While
// it serves, it verifies tenant isolation every IsolationCheckInterval and
// refuses tenant routes while that fails.
func (s *Server) Serve(ctx context.Context, ln, metricsLn net.Listener) error {
	checksCtx, stopChecks := context.WithCancel(ctx)
	var checks sync.WaitGroup
	checks.Go(func() { s.fence.run(checksCtx) })
	checks.Go(func() { s.chains.run(checksCtx) })
	defer func() {
		stopChecks()
		checks.Wait()
	}()
	srv := s.httpServer(ctx, s.Handler())
	metricsSrv := s.httpServer(ctx, s.MetricsHandler())
	s.clicks.Start()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- metricsSrv.Serve(metricsLn) }()
	s.log.Info("Serving", "address", ln.Addr().String(), "metrics_address", metricsLn.Addr().String(), "region", s.cfg.Region)
	select {
	case err := <-errc:
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(fmt.Errorf("serving: %w", err), srv.Shutdown(shutdownCtx), metricsSrv.Shutdown(shutdownCtx),
			s.closeClicks(shutdownCtx))
	case <-ctx.Done():
	}
	s.log.Info("Shutting down: draining in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return errors.Join(fmt.Errorf("draining requests: %w", err), metricsSrv.Shutdown(shutdownCtx), s.closeClicks(shutdownCtx))
	}
	// The metrics keep being served until the last click is stored.
	err := s.closeClicks(shutdownCtx)
	err = errors.Join(err, metricsSrv.Shutdown(shutdownCtx))
	for range 2 {
		if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, fmt.Errorf("serving: %w", serveErr))
		}
	}
	return err
}

// httpServer is an HTTP server of h with the configured timeouts, whose
// requests outlive ctx (they are drained on shutdown).
func (s *Server) httpServer(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadTimeout:       s.cfg.ReadTimeout,
		ReadHeaderTimeout: s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// closeClicks stores the clicks still buffered, once no request can add
// one, and stops the click writer, within ctx's deadline and at most the
// shutdown timeout.
func (s *Server) closeClicks(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.clicks.Close(ctx); err != nil {
		return fmt.Errorf("storing the last clicks: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 unless the fence found tenant isolation broken. A
// database this replica cannot reach keeps it ready: the outage is every
// replica's, and the Service had better keep the replicas that answer the
// redirects from the link cache and the others with Retry-After.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.fence.violated() {
		writeProblem(w, r, Problem{Type: "isolation_unverified", Title: "Tenant isolation is not verified",
			Status: http.StatusServiceUnavailable})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// openAPI answers the OpenAPI document.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}
