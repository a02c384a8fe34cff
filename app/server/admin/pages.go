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

// Package admin serves the admin pages at /admin: server-rendered HTML for
// an organization's administrators, with an overview of the organization
// and its API keys, its promo codes, and the audit log. The pages run no JavaScript. A
// browser signs in with an API key holding the read and write scopes and
// gets a session cookie (session.go); every form POST is checked for its
// origin and a CSRF token tied to the session. The package serves only
// what it is given in Deps, through routes the server mounts with its own
// middleware; it reaches tenant data only through app/db and app/ledger.
package admin

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server/ratelimit"
)

// files holds the page templates and the style sheet.
//
//go:embed templates
var files embed.FS

// pageNames are the templates each rendered with the layout.
var pageNames = []string{"sign_in", "overview", "promo_codes", "audit_log", "error"}

// securityHeaders go on every /admin response: the pages load nothing
// but their own style sheet, cannot be framed, post forms only to
// themselves, and are never cached.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
	"X-Frame-Options":        "DENY",
}

// Sign-in attempts per client address: a burst of signInBurst, then
// one every signInEvery, so guessing tokens goes nowhere.
const (
	signInBurst = 10
	signInEvery = 6 * time.Second
)

// Deps is what the admin pages need from the server that mounts them.
type Deps struct {
	// DB holds the sessions, the API keys and everything the pages show.
	DB *db.DB
	// Sealer appends the audit entries of sign-ins, sign-outs and
	// revocations, and opens the entries the pages show.
	Sealer *audit.Sealer
	// Ring is the Region's key ring, from which the keys that sign sessions
	// and CSRF tokens derive. Without it those keys are random per
	// process: every session ends when the process does, and a session
	// opened on one replica is refused by the others.
	Ring *keyring.KeyRing
	// Log receives the failures the pages answer with a 500.
	Log *slog.Logger
	// Now is the clock the rate limits read.
	Now func() time.Time
	// KeyLimits are the API keys' rate limits: requests of a session count
	// against its key's, as the API's do.
	KeyLimits *ratelimit.Limits[uuid.UUID]
	// PublicBaseURL is where browsers reach the app; it decides whether
	// cookies are Secure (see secureCookies).
	PublicBaseURL string
	// ClientIP is the address of a request's client, as the server's
	// trusted proxies tell it: the sign-in limit's key and the audit
	// entries' address.
	ClientIP func(*http.Request) netip.Addr
	// RequestID is the id the server's middleware gave the request.
	RequestID func(context.Context) string
	// ExportAuditLog answers the audit log's CSV export for the principal
	// in the request's context (apikey.PrincipalFrom), as the API does.
	ExportAuditLog http.HandlerFunc
	// CheckAudit verifies the organization's audit chain and compares it
	// with the operator's witness, in the page's tenant transaction, as
	// GET /v1/audit-log/verify does.
	CheckAudit func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (AuditCheck, error)
	// Location is the Region's data location, us or eu; GracePeriod its
	// time from an organization's cancellation to the purge of its rows.
	Location    string
	GracePeriod time.Duration
}

// AuditCheck is the outcome of CheckAudit.
type AuditCheck struct {
	// Verified counts the intact entries from seq 1; BrokenSeq is the
	// first that is not, 0 when the chain is intact.
	Verified, BrokenSeq int64
	// Witness is the state of the comparison with the operator's witness:
	// agrees, disagrees, not_witnessed, unverifiable or not_configured.
	// WitnessSeq and WitnessedAt name its newest checkpoint;
	// FirstDisagreeingSeq the first entry that may have been changed.
	Witness             string
	WitnessSeq          int64
	WitnessedAt         time.Time
	FirstDisagreeingSeq int64
	CheckedAt           time.Time
}

// Pages serves the admin pages.
type Pages struct {
	db          *db.DB
	sealer      *audit.Sealer
	log         *slog.Logger
	now         func() time.Time
	keyLimits   *ratelimit.Limits[uuid.UUID]
	clientIP    func(*http.Request) netip.Addr
	requestID   func(context.Context) string
	export      http.HandlerFunc
	checkAudit  func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (AuditCheck, error)
	location    string
	gracePeriod time.Duration

	keys    macKeys
	pages   map[string]*template.Template
	signIns *ratelimit.Limits[netip.Addr]
	secure  bool // cookies carry Secure; see secureCookies
}

// New returns the admin pages serving with deps.
func New(deps Deps) *Pages {
	return &Pages{
		db: deps.DB, sealer: deps.Sealer, log: deps.Log, now: deps.Now, keyLimits: deps.KeyLimits,
		clientIP: deps.ClientIP, requestID: deps.RequestID, export: deps.ExportAuditLog,
		checkAudit: deps.CheckAudit, location: deps.Location, gracePeriod: deps.GracePeriod,
		keys:    newMACKeys(deps.Ring, deps.Log),
		pages:   parsePages(),
		signIns: ratelimit.New[netip.Addr](float64(time.Second)/float64(signInEvery), signInBurst),
		secure:  secureCookies(deps.PublicBaseURL),
	}
}

// Register registers every admin page through route, which takes a
// "METHOD /path" pattern and its handler.
func (a *Pages) Register(route func(pattern string, h http.Handler)) {
	mount := func(pattern string, h http.HandlerFunc) { route(pattern, withSecurityHeaders(h)) }
	mount("GET /admin/static/admin.css", a.styleSheet)
	mount("GET /admin/sign-in", a.signInForm)
	mount("POST /admin/sign-in", a.signIn)
	mount("POST /admin/sign-out", a.requireSession(a.signOut))
	mount("GET /admin", a.requireSession(a.overview))
	mount("POST /admin/api-keys/{id}/revoke", a.requireSession(a.revokeAPIKey))
	mount("GET /admin/promo-codes", a.requireSession(a.promoCodes))
	mount("GET /admin/audit-log", a.requireSession(a.auditLog))
	mount("GET /admin/audit-log/export.csv", a.requireSession(a.export))
}

func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"deref": deref,
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		pages[name] = template.Must(template.New(name).Funcs(funcs).
			ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// secureCookies is false only when the public base URL is plain http on
// this machine, where a browser would drop a Secure cookie.
func secureCookies(publicBaseURL string) bool {
	u, err := url.Parse(publicBaseURL)
	if err != nil || u.Scheme != "http" {
		return true
	}
	if u.Hostname() == "localhost" {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err != nil || !ip.IsLoopback()
}

func withSecurityHeaders(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		next(w, r)
	}
}

// SetSecurityHeaders sets the admin pages' security headers on h, for
// other pages held to the same policy (/trust), which may then relax
// Cache-Control.
func SetSecurityHeaders(h http.Header) {
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
}

func (a *Pages) styleSheet(w http.ResponseWriter, r *http.Request) {
	css, err := files.ReadFile("templates/admin.css")
	if err != nil {
		a.internalError(w, r, "reading the style sheet", err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(css)
}

// page is what every page template gets: the page's own data in Data.
type page struct {
	Title    string
	SignedIn bool
	CSRF     string // the session's CSRF token, or the sign-in form's
	Error    string
	Data     any
}

// render writes the page name with status; the page is rendered in full
// before anything is sent, so a template failure is still a clean 500.
func (a *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if sess, ok := sessionFrom(r.Context()); ok {
		p.SignedIn, p.CSRF = true, a.keys.csrfToken(sess)
	}
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.log.Error("Rendering an admin page failed", "page", name, "error", err.Error(), "request_id", a.requestID(r.Context()))
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage answers an error page.
func (a *Pages) errorPage(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	a.render(w, r, status, "error", page{Title: title, Error: detail})
}

// internalError logs err and answers a 500 page that reveals nothing.
func (a *Pages) internalError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	a.log.Error("Admin request failed", "doing", doing, "error", err.Error(), "request_id", a.requestID(r.Context()))
	a.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"The request failed. Quote request id "+a.requestID(r.Context())+" to support.")
}

// seeOther redirects a browser to path with a GET.
func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
