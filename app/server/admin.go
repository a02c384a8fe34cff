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
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// The admin pages at /admin are server-rendered HTML for an organization's
// administrators: an overview with the API keys, and the audit log. They
// run no JavaScript. A browser signs in with an API key holding the read
// and write scopes and gets a session cookie (admin_session.go); every form POST is
// checked for its origin and a CSRF token tied to the session.

// adminFiles holds the page templates and the style sheet.
//
//go:embed templates
var adminFiles embed.FS

// adminPages are the templates each rendered with the layout.
var adminPages = []string{"sign_in", "overview", "audit_log", "error"}

// adminSecurityHeaders go on every /admin response: the pages load nothing
// but their own style sheet, cannot be framed, post forms only to
// themselves, and are never cached.
var adminSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
	"X-Frame-Options":        "DENY",
}

// Sign-in attempts per client address: a burst of adminSignInBurst, then
// one every adminSignInEvery, so guessing tokens goes nowhere.
const (
	adminSignInBurst = 10
	adminSignInEvery = 6 * time.Second
)

// adminUI is what the admin pages need besides the server.
type adminUI struct {
	keys    adminKeys
	pages   map[string]*template.Template
	signIns *keyLimits[netip.Addr]
	secure  bool // cookies carry Secure; see secureCookies
}

// routeAdmin registers the admin pages.
func (s *Server) routeAdmin() {
	s.admin = &adminUI{
		keys:    s.newAdminKeys(),
		pages:   parseAdminPages(),
		signIns: newKeyLimits[netip.Addr](float64(time.Second)/float64(adminSignInEvery), adminSignInBurst),
		secure:  secureCookies(s.cfg.PublicBaseURL),
	}
	page := func(pattern string, h http.HandlerFunc) { s.route(pattern, adminHeaders(h)) }
	page("GET /admin/static/admin.css", s.adminStyleSheet)
	page("GET /admin/sign-in", s.adminSignInForm)
	page("POST /admin/sign-in", s.adminSignIn)
	page("POST /admin/sign-out", s.adminSession(s.adminSignOut))
	page("GET /admin", s.adminSession(s.adminOverview))
	page("POST /admin/api-keys/{id}/revoke", s.adminSession(s.adminRevokeAPIKey))
	page("GET /admin/audit-log", s.adminSession(s.adminAuditLog))
	page("GET /admin/audit-log/export.csv", s.adminSession(s.exportAuditLog))
}

func parseAdminPages() map[string]*template.Template {
	funcs := template.FuncMap{
		"when":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"deref": deref,
	}
	pages := make(map[string]*template.Template, len(adminPages))
	for _, name := range adminPages {
		pages[name] = template.Must(template.New(name).Funcs(funcs).
			ParseFS(adminFiles, "templates/layout.html", "templates/"+name+".html"))
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

func adminHeaders(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range adminSecurityHeaders {
			w.Header().Set(k, v)
		}
		next(w, r)
	}
}

func (s *Server) adminStyleSheet(w http.ResponseWriter, r *http.Request) {
	css, err := adminFiles.ReadFile("templates/admin.css")
	if err != nil {
		s.adminInternalError(w, r, "reading the style sheet", err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(css)
}

// adminPage is what every page template gets: the page's own data in Data.
type adminPage struct {
	Title    string
	SignedIn bool
	CSRF     string // the session's CSRF token, or the sign-in form's
	Error    string
	Data     any
}

// render writes the page name with status; the page is rendered in full
// before anything is sent, so a template failure is still a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p adminPage) {
	if sess, ok := sessionFrom(r.Context()); ok {
		p.SignedIn, p.CSRF = true, s.admin.keys.csrfToken(sess)
	}
	var buf bytes.Buffer
	if err := s.admin.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.Error("Rendering an admin page failed", "page", name, "error", err.Error(), "request_id", requestIDFrom(r.Context()))
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// adminError answers an error page.
func (s *Server) adminError(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	s.render(w, r, status, "error", adminPage{Title: title, Error: detail})
}

// adminInternalError logs err and answers a 500 page that reveals nothing.
func (s *Server) adminInternalError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	s.log.Error("Admin request failed", "doing", doing, "error", err.Error(), "request_id", requestIDFrom(r.Context()))
	s.adminError(w, r, http.StatusInternalServerError, "Something went wrong",
		"The request failed. Quote request id "+requestIDFrom(r.Context())+" to support.")
}

// seeOther redirects a browser to path with a GET.
func seeOther(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}
