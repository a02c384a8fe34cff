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
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/rekomi/rekomi/app/apikey"
)

// adminScopes are the scopes an admin session's key must hold, on sign-in
// and on every request: the pages show what read shows and revoke keys.
var adminScopes = []string{ScopeRead, ScopeWrite}

func holdsAdminScopes(scopes []string) bool {
	return len(scopesNotHeld(adminScopes, scopes)) == 0
}

// signInRefused is the one message for every refused token: unknown,
// malformed, revoked, wrong or read-only. It never says which.
const signInRefused = "That token cannot sign in. Use an API key of your organization with the read and write scopes."

// adminSignInForm answers GET /admin/sign-in: the form, with a token tied
// to a fresh sign-in cookie.
func (s *Server) adminSignInForm(w http.ResponseWriter, r *http.Request) {
	s.renderSignIn(w, r, http.StatusOK, "")
}

// renderSignIn writes the sign-in form with message, keeping the browser's
// sign-in nonce if it has one.
func (s *Server) renderSignIn(w http.ResponseWriter, r *http.Request, status int, message string) {
	nonce := signInNonce(r)
	if nonce == "" {
		nonce = base64.RawURLEncoding.EncodeToString(randomBytes(16))
		http.SetCookie(w, s.admin.cookie(signInCookie, nonce, signInTTL))
	}
	s.render(w, r, status, "sign_in", adminPage{Title: "Sign in", CSRF: s.admin.keys.signInToken(nonce), Error: message})
}

// signInNonce is the well-formed nonce of the request's sign-in cookie, or "".
func signInNonce(r *http.Request) string {
	c, err := r.Cookie(signInCookie)
	if err != nil {
		return ""
	}
	if b, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil || len(b) != 16 {
		return ""
	}
	return c.Value
}

// adminSignIn answers POST /admin/sign-in. Each attempt takes a token from
// the client address's bucket before the key is looked at. A token that is
// a valid API key with the read and write scopes starts a session
// (audited as admin.signed_in); any other gets the same 401 form.
func (s *Server) adminSignIn(w http.ResponseWriter, r *http.Request) {
	if wait, ok := s.admin.signIns.allow(clientIP(r, s.cfg.TrustedProxies), s.now()); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		s.renderSignIn(w, r, http.StatusTooManyRequests, "Too many sign-in attempts. Wait "+retryAfter(wait)+" seconds and try again.")
		return
	}
	nonce := signInNonce(r)
	if !s.sameOrigin(r) || nonce == "" || !validToken(r.PostFormValue(csrfField), s.admin.keys.signInToken(nonce)) {
		s.adminError(w, r, http.StatusForbidden, "Request refused",
			"The sign-in form was stale or did not come from this site. Open the sign-in page again.")
		return
	}
	p, err := apikey.Authenticate(r.Context(), s.db, "Bearer "+strings.TrimSpace(r.PostFormValue("token")))
	if err == nil && !holdsAdminScopes(p.Scopes) {
		err = apikey.ErrUnauthenticated
	}
	switch {
	case errors.Is(err, apikey.ErrUnauthenticated):
		s.renderSignIn(w, r, http.StatusUnauthorized, signInRefused)
		return
	case err != nil:
		s.adminInternalError(w, r, "signing in", err)
		return
	}
	if err := s.startSession(w, r, p); err != nil {
		s.adminInternalError(w, r, "starting an admin session", err)
		return
	}
	http.SetCookie(w, s.admin.cookie(signInCookie, "", -1))
	seeOther(w, r, "/admin")
}

// adminSignOut answers POST /admin/sign-out: it deletes the session, so
// its cookie, wherever a copy of it is, opens nothing on any replica, and
// then the cookie.
func (s *Server) adminSignOut(w http.ResponseWriter, r *http.Request) {
	sess, _ := sessionFrom(r.Context())
	if err := s.stopSession(r, sess, principalFrom(r.Context())); err != nil {
		s.adminInternalError(w, r, "signing out", err)
		return
	}
	s.endSession(w)
	seeOther(w, r, "/admin/sign-in")
}
