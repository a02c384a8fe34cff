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
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server/ratelimit"
)

// Scopes an API key may hold, as the routes and a principal name them:
// ledger's Scope values.
const (
	ScopeRead  = string(ledger.ScopeRead)
	ScopeWrite = string(ledger.ScopeWrite)
)

// principalFrom returns the API key the request authenticated with.
func principalFrom(ctx context.Context) apikey.Principal {
	return apikey.PrincipalFrom(ctx)
}

// requireKey lets a request through with a valid key holding scope, then
// applies the key's rate limit.
func (s *Server) requireKey(scope string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := apikey.Authenticate(r.Context(), s.db, r.Header.Get("Authorization"))
		switch {
		case errors.Is(err, apikey.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="rekomi"`)
			writeProblem(w, r, Problem{Type: "unauthorized", Title: "A valid API key is required", Status: http.StatusUnauthorized,
				Detail: "send Authorization: Bearer rk_live_..."})
			return
		case err != nil:
			s.internalError(w, r, "authenticating", err)
			return
		case !slices.Contains(p.Scopes, scope):
			writeProblem(w, r, Problem{Type: "insufficient_scope", Title: "This API key lacks the " + scope + " scope",
				Status: http.StatusForbidden})
			return
		}
		if wait, ok := s.limits.Allow(p.KeyID, s.now()); !ok {
			w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
			writeProblem(w, r, Problem{Type: "rate_limited", Title: "Too many requests for this API key",
				Status: http.StatusTooManyRequests})
			return
		}
		next(w, r.WithContext(apikey.WithPrincipal(r.Context(), p)))
	}
}

// internalError logs err and answers a problem that reveals nothing: 503
// with Retry-After when the database could not be reached, so that the
// client tries again, else 500.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	s.log.Error("Request failed", "doing", doing, "error", err.Error(), "request_id", requestIDFrom(r.Context()))
	if db.Unreachable(err) {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, r, Problem{Type: "unavailable", Title: "Temporarily unavailable; try again shortly",
			Status: http.StatusServiceUnavailable})
		return
	}
	writeProblem(w, r, Problem{Type: "internal", Title: "Internal error", Status: http.StatusInternalServerError})
}

// auditEntry fills the request's part of an audit entry: the acting key,
// the client IP, the user agent and the request id.
func (s *Server) auditEntry(r *http.Request, action, targetType, targetID string, metadata map[string]any) audit.Entry {
	p := principalFrom(r.Context())
	return audit.Entry{
		ActorType: audit.ActorAPIKey, ActorID: p.KeyID.String(),
		Action: action, TargetType: targetType, TargetID: targetID,
		IP: clientIP(r, s.cfg.TrustedProxies), UserAgent: r.UserAgent(), RequestID: requestIDFrom(r.Context()),
		Metadata: metadata,
	}
}

// withPersonal returns e with the personal values to seal: emails, URLs,
// names, by field name, such as audit.FieldEmail.
func withPersonal(e audit.Entry, personal map[string]string) audit.Entry {
	e.Personal = personal
	return e
}

// clientIP is the address of the client: the connection's peer, unless the
// peer is a trusted proxy, in which case X-Forwarded-For is read from the
// right, skipping trusted proxies, and the first other address is the
// client. A header set by anyone else is ignored, so it cannot be forged.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if !isTrusted(ip, trusted) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip // a malformed hop: trust nothing further left
		}
		ip = hop.Unmap()
		if !isTrusted(ip, trusted) {
			return ip
		}
	}
	return ip
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
