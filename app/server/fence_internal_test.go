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
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
)

// TestFenceKinds drives the fence with each kind of check outcome and
// asks every kind of route: a finding refuses everything and takes the
// replica out of the Service; an unreachable database refuses the routes
// that need it but the redirects, and keeps the replica ready.
func TestFenceKinds(t *testing.T) {
	unreachable := fmt.Errorf("checking tenant isolation: %w",
		&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})
	finding := fmt.Errorf("%w: campaigns: row-level security not forced", db.ErrUnsafe)
	var outcome error
	s := &Server{mux: http.NewServeMux(), log: slog.New(slog.DiscardHandler)}
	s.fence = newFence(func(context.Context) error { return outcome }, time.Second, s.log, prometheus.NewRegistry(), time.Now)
	served := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusFound) })
	s.mux.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.mux.Handle("/", served)
	h := s.fenced(s.mux)
	ask := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("{}")))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, rec.Header().Get("Retry-After") + " " + string(body)
	}
	check := func(err error) {
		outcome = err
		s.fence.checkOnce(context.Background())
	}

	check(nil)
	for _, path := range []string{"/r/abc", "/v1/campaigns"} {
		status, _ := ask(http.MethodGet, path)
		require.Equal(t, http.StatusFound, status, path)
	}

	check(unreachable)
	status, _ := ask(http.MethodGet, "/r/abc")
	require.Equal(t, http.StatusFound, status, "a redirect is answered from the link cache")
	status, answer := ask(http.MethodGet, "/v1/campaigns")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.True(t, strings.HasPrefix(answer, "1 "), "with Retry-After: %q", answer)
	status, answer = ask(http.MethodPost, "/webhooks/stripe/x")
	require.Equal(t, http.StatusServiceUnavailable, status, "a provider retries")
	require.Equal(t, "1 ", answer, "an empty answer with Retry-After")
	status, _ = ask(http.MethodGet, "/readyz")
	require.Equal(t, http.StatusOK, status, "an outage every replica shares keeps them in the Service")
	require.NotContains(t, answer, "connection refused", "the reason is logged, never answered")

	check(finding)
	for _, path := range []string{"/r/abc", "/v1/campaigns", "/readyz"} {
		status, answer := ask(http.MethodGet, path)
		require.Equal(t, http.StatusServiceUnavailable, status, path)
		require.NotContains(t, answer, "forced", "what was found is never answered")
	}
	check(unreachable)
	status, _ = ask(http.MethodGet, "/r/abc")
	require.Equal(t, http.StatusServiceUnavailable, status, "a database out of reach does not clear a finding")
	status, _ = ask(http.MethodGet, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)

	check(nil)
	for _, path := range []string{"/r/abc", "/v1/campaigns", "/readyz"} {
		status, _ := ask(http.MethodGet, path)
		require.NotEqual(t, http.StatusServiceUnavailable, status, path)
	}
}

// TestUnreachableAnswers answers a failure to reach the database with 503
// and Retry-After, on the API and on webhooks, and any other failure with
// 500.
func TestUnreachableAnswers(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler), webhooks: newWebhookMetrics(prometheus.NewRegistry())}
	unreachable := fmt.Errorf("listing campaigns: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")})
	for _, c := range []struct {
		err    error
		status int
		retry  string
	}{{unreachable, http.StatusServiceUnavailable, "1"}, {errors.New("a bug"), http.StatusInternalServerError, ""}} {
		rec := httptest.NewRecorder()
		s.internalError(rec, httptest.NewRequest(http.MethodGet, "/v1/campaigns", nil), "listing", c.err)
		require.Equal(t, c.status, rec.Code, c.err)
		require.Equal(t, c.retry, rec.Header().Get("Retry-After"))
		require.NotContains(t, rec.Body.String(), "refused", "the cause is logged, never answered")

		rec = httptest.NewRecorder()
		s.failWebhook(rec, httptest.NewRequest(http.MethodPost, "/webhooks/stripe/x", nil), "stripe", c.err)
		require.Equal(t, c.status, rec.Code, c.err)
		require.Equal(t, c.retry, rec.Header().Get("Retry-After"))
		require.Empty(t, rec.Body.String())
	}
}

// TestFencePublishesOnlyWhatItFound checks what /trust may say of each
// outcome: the verifier's findings, but never the text of an error that
// may name a host, a user or the driver's message.
func TestFencePublishesOnlyWhatItFound(t *testing.T) {
	f := newFence(nil, time.Second, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), time.Now)
	require.Equal(t, "pending", f.latest().Outcome)
	for _, c := range []struct {
		err              error
		outcome, finding string
	}{
		{nil, "verified", ""},
		{fmt.Errorf("checking tenant isolation: %w", &net.OpError{Op: "dial", Net: "tcp",
			Err: errors.New("dial tcp 10.0.0.7:5432 (pg.db.svc) user=rekomi_app: connect: connection refused")}),
			"unreachable", "the database could not be reached"},
		{fmt.Errorf("%w: campaigns: row-level security not forced", db.ErrUnsafe), "violated",
			"refusing to run: tenant isolation is not enforced: campaigns: row-level security not forced"},
		{errors.New(`ERROR: permission denied for table secret_table (user "rekomi_app" at 10.0.0.7)`), "violated",
			"the check could not finish; the app's log says why"},
	} {
		f.check = func(context.Context) error { return c.err }
		f.checkOnce(context.Background())
		got := f.latest()
		require.Equal(t, c.outcome, got.Outcome, "%v", c.err)
		require.Equal(t, c.finding, got.Finding, "%v", c.err)
		require.NotNil(t, got.CheckedAt)
	}
}
