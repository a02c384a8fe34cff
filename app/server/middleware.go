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
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekomi/rekomi/app/db"
)

type requestIDKey struct{}

// RequestIDHeader carries a request's id in and out.
const RequestIDHeader = "X-Request-Id"

// validRequestID is what a caller may pass as its own request id.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,128}$`)

// requestIDFrom returns the request's id, or "" outside a request.
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID keeps a well-formed id the caller sent, or makes one, and
// returns it in the response.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = "req_" + hex.EncodeToString(b)
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// hstsValue asks browsers to reach this host over HTTPS only, for a year.
// It names no subdomains: the app's host may share a parent domain with
// sites that are not its own.
const hstsValue = "max-age=31536000"

// strictTransport sends Strict-Transport-Security on every answer to a
// request that came over HTTPS (see servedOverTLS); browsers ignore it over
// plain HTTP, so it is not sent there.
func (s *Server) strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if servedOverTLS(r, s.cfg.TrustedProxies) {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a body over the limit: the handler's read fails, and a
// declared length over it is refused before the handler runs. Webhook
// deliveries are bounded by their own handler instead.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, webhookPathPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > s.cfg.MaxBodyBytes {
			writeProblem(w, r, Problem{Type: "body_too_large", Title: "The request body is too large",
				Status: http.StatusRequestEntityTooLarge, Detail: "at most " + strconv.FormatInt(s.cfg.MaxBodyBytes, 10) + " bytes"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic into a logged 500 problem.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("Handler panicked", "panic", v, "request_id", requestIDFrom(r.Context()), "path", r.URL.Path)
				writeProblem(w, r, Problem{Type: "internal", Title: "Internal error", Status: http.StatusInternalServerError})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe logs each request as one JSON line and counts it by route.
// accessLogLevel is the level of a request's access log line. Click
// redirects are the internet's traffic, not anyone's API call: counted in
// the metrics like every route, they are logged only at debug level unless
// they fail on the server's side.
func accessLogLevel(route string, status int) slog.Level {
	if route == redirectRoute && status < http.StatusInternalServerError {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern // set by the mux once it matched
		if route == "" || route == "/" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
		if level := accessLogLevel(route, rec.status); s.log.Enabled(r.Context(), level) {
			s.log.Log(r.Context(), level, "Request", "method", r.Method, "route", route,
				"path", r.URL.Path, "status", rec.status, "duration_ms", float64(elapsed.Microseconds())/1000,
				"request_id", requestIDFrom(r.Context()))
		}
	})
}

// metrics are the app's Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, database *db.DB) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rekomi_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rekomi_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	pool := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rekomi_db_pool_" + name, Help: help}, f))
	}
	pool("connections_acquired", "Connections in use.", func() float64 { return float64(database.Stat().AcquiredConns()) })
	pool("connections_idle", "Idle connections.", func() float64 { return float64(database.Stat().IdleConns()) })
	pool("connections_total", "Open connections.", func() float64 { return float64(database.Stat().TotalConns()) })
	pool("connections_max", "Pool size limit.", func() float64 { return float64(database.Stat().MaxConns()) })
	return m
}
