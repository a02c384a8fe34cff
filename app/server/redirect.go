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
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/clicks"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// redirectRoute is the click redirect's route pattern.
const redirectRoute = "GET /r/{code}"

// redirectPathPrefix starts every redirect's path.
const redirectPathPrefix = "/r/"

const (
	// visitorCookie carries the visitor id that clicks, and the
	// conversions tracked later, are matched by.
	visitorCookie = "rk_vid"
	// referralParam is the query parameter that carries the link's code to
	// the destination.
	referralParam = "ref"
	// linkLoadTimeout bounds the database reads that resolve an uncached
	// code.
	linkLoadTimeout = 5 * time.Second
)

// linkNotFoundPage is the whole answer to a code that does not redirect.
const linkNotFoundPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head>
<body><h1>Link not found</h1><p>This referral link does not exist or is no longer active.</p></body></html>
`

// linkUnavailablePage answers when the code cannot be looked up.
const linkUnavailablePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Try again</title></head>
<body><h1>Try again in a moment</h1><p>This link cannot be followed right now.</p></body></html>
`

// redirect answers GET /r/{code}: a 302 to the link's destination with the
// code appended as ref, and the visitor cookie, whose lifetime is the
// campaign's attribution window. The click is handed to the batcher, never
// written on the way. A code that is unknown, or whose link is disabled,
// affiliate suspended or organization cancelled, is a 404 page with no
// cookie and no click. A HEAD request is answered the same, without a
// click: link previewers send them, people do not.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	route, found := linkRoute{}, false
	if ledger.ValidReferralCode(code) {
		var err error
		if route, found, err = s.resolveLink(r.Context(), code); err != nil {
			s.log.Error("Resolving a referral code failed", "error", err.Error(), "request_id", requestIDFrom(r.Context()))
			w.Header().Set("Retry-After", "1")
			writeLinkPage(w, http.StatusServiceUnavailable, linkUnavailablePage)
			return
		}
	}
	if !found || !route.redirects() {
		writeLinkPage(w, http.StatusNotFound, linkNotFoundPage)
		return
	}
	visitor, ok := visitorFrom(r)
	if !ok {
		visitor = uuid.New()
	}
	if r.Method == http.MethodGet {
		s.clicks.Add(clicks.Click{OrgID: route.orgID, LinkID: route.linkID, VisitorID: visitor, OccurredAt: time.Now(),
			IP: clientIP(r, s.cfg.TrustedProxies), UserAgent: r.UserAgent(), Referrer: r.Referer()})
	}
	http.SetCookie(w, &http.Cookie{Name: visitorCookie, Value: visitor.String(), Path: "/", MaxAge: int(route.window.Seconds()),
		HttpOnly: true, Secure: servedOverTLS(r, s.cfg.TrustedProxies), SameSite: http.SameSiteLaxMode})
	h := w.Header()
	h.Set("Location", route.destination)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	w.WriteHeader(http.StatusFound)
}

// writeLinkPage answers a small HTML page that loads nothing.
func writeLinkPage(w http.ResponseWriter, status int, page string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(page))
}

// visitorFrom returns the visitor id of the request's cookie, if it holds
// a well-formed one: a UUID in its 36-character form, not the nil UUID.
func visitorFrom(r *http.Request) (uuid.UUID, bool) {
	c, err := r.Cookie(visitorCookie)
	if err != nil || len(c.Value) != 36 {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(c.Value)
	return id, err == nil && id != uuid.Nil
}

// servedOverTLS reports whether the client reached the app over TLS: on
// this connection, or, when the peer is a trusted proxy, as the last value
// of the X-Forwarded-Proto it set says. Anyone else's header is ignored.
func servedOverTLS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !isTrusted(ap.Addr().Unmap(), trusted) {
		return false
	}
	values := r.Header.Values("X-Forwarded-Proto")
	if len(values) == 0 {
		return false
	}
	protos := strings.Split(values[len(values)-1], ",")
	return strings.EqualFold(strings.TrimSpace(protos[len(protos)-1]), "https")
}

// withReferral appends ref=code to destination's query, after dropping any
// ref the destination had, and keeps the rest of it, fragment included,
// byte for byte.
func withReferral(destination, code string) string {
	rest, fragment, hasFragment := strings.Cut(destination, "#")
	base, query, _ := strings.Cut(rest, "?")
	var params []string
	for _, p := range strings.Split(query, "&") {
		key, _, _ := strings.Cut(p, "=")
		if k, err := url.QueryUnescape(key); p == "" || (err == nil && k == referralParam) {
			continue
		}
		params = append(params, p)
	}
	params = append(params, referralParam+"="+url.QueryEscape(code))
	out := base + "?" + strings.Join(params, "&")
	if hasFragment {
		out += "#" + fragment
	}
	return out
}

// linkLoad is what one database read of a code found.
type linkLoad struct {
	route linkRoute
	found bool
}

// resolveLink returns the route of a code, from the cache or else the
// database; found is false for an unknown code.
func (s *Server) resolveLink(ctx context.Context, code string) (linkRoute, bool, error) {
	if route, found, cached := s.links.get(code, s.now()); cached {
		return route, found, nil
	}
	gen := s.links.gen.Load()
	v, err, _ := s.links.loads.Do(code+"/"+strconv.FormatUint(gen, 10), func() (any, error) {
		// Shared by every request waiting for this code: none of them may
		// cancel it for the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), linkLoadTimeout)
		defer cancel()
		route, found, err := s.loadLink(ctx, code)
		if err != nil {
			return nil, err
		}
		s.links.put(code, route, found, gen, s.now())
		return linkLoad{route: route, found: found}, nil
	})
	if err != nil {
		if route, ok := s.links.stale(code, s.now()); ok && db.Unreachable(err) {
			return route, true, nil
		}
		return linkRoute{}, false, err
	}
	load := v.(linkLoad)
	return load.route, load.found, nil
}

// loadLinkSQL reads what a redirect needs of a link, its affiliate, its
// campaign and its organization.
const loadLinkSQL = `SELECT l.affiliate_id, l.campaign_id, l.destination_url, l.disabled_at IS NOT NULL, a.status,
	c.attribution_window_days, o.status
FROM referral_links l
JOIN affiliates a ON a.org_id = l.org_id AND a.id = l.affiliate_id
JOIN campaigns c ON c.org_id = l.org_id AND c.id = l.campaign_id
JOIN organizations o ON o.id = l.org_id
WHERE l.org_id = $1 AND l.id = $2`

// loadLink resolves a code through the routing table, then reads its link
// in its organization's transaction.
func (s *Server) loadLink(ctx context.Context, code string) (linkRoute, bool, error) {
	var route linkRoute
	var err error
	route.orgID, route.linkID, err = s.db.LookupRoute(ctx, db.RouteLinkCode, code)
	if errors.Is(err, db.ErrNoRoute) {
		return linkRoute{}, false, nil
	}
	if err != nil {
		return linkRoute{}, false, fmt.Errorf("resolving a link code: %w", err)
	}
	var destination, affiliateStatus, orgStatus string
	var days int
	err = s.db.TenantTx(ctx, route.orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, loadLinkSQL, route.orgID, route.linkID).Scan(&route.affiliateID, &route.campaignID, &destination,
			&route.disabled, &affiliateStatus, &days, &orgStatus)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return linkRoute{}, false, nil // a purged organization's key
	}
	if err != nil {
		return linkRoute{}, false, fmt.Errorf("reading the link of a code: %w", err)
	}
	route.destination = withReferral(destination, code)
	route.window = time.Duration(days) * 24 * time.Hour
	route.suspended = affiliateStatus == string(ledger.AffiliateSuspended)
	route.cancelled = orgStatus != "active"
	return route, true, nil
}
