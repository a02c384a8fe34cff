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

package admin

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server/ratelimit"
)

// scopes are the scopes an admin session's key must hold, on sign-in and
// on every request: the pages show what read shows and revoke keys.
var scopes = []ledger.Scope{ledger.ScopeRead, ledger.ScopeWrite}

// holdsScopes reports whether held has every one of scopes.
func holdsScopes(held []string) bool {
	for _, s := range scopes {
		if !slices.Contains(held, string(s)) {
			return false
		}
	}
	return true
}

// signInRefused is the one message for every refused token: unknown,
// malformed, revoked, wrong or read-only. It never says which.
const signInRefused = "That token cannot sign in. Use an API key of your organization with the read and write scopes."

// signInForm answers GET /admin/sign-in: the form, with a token tied
// to a fresh sign-in cookie.
func (a *Pages) signInForm(w http.ResponseWriter, r *http.Request) {
	a.renderSignIn(w, r, http.StatusOK, "")
}

// renderSignIn writes the sign-in form with message, keeping the browser's
// sign-in nonce if it has one.
func (a *Pages) renderSignIn(w http.ResponseWriter, r *http.Request, status int, message string) {
	nonce := signInNonce(r)
	if nonce == "" {
		nonce = base64.RawURLEncoding.EncodeToString(randomBytes(16))
		http.SetCookie(w, a.cookie(signInCookie, nonce, signInTTL))
	}
	a.render(w, r, status, "sign_in", page{Title: "Sign in", CSRF: a.keys.signInToken(nonce), Error: message})
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

// signIn answers POST /admin/sign-in. Each attempt takes a token from
// the client address's bucket before the key is looked at. A token that is
// a valid API key with the read and write scopes starts a session
// (audited as admin.signed_in); any other gets the same 401 form.
func (a *Pages) signIn(w http.ResponseWriter, r *http.Request) {
	if wait, ok := a.signIns.Allow(a.clientIP(r), a.now()); !ok {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		a.renderSignIn(w, r, http.StatusTooManyRequests, "Too many sign-in attempts. Wait "+ratelimit.RetryAfter(wait)+" seconds and try again.")
		return
	}
	nonce := signInNonce(r)
	if !a.sameOrigin(r) || nonce == "" || !validToken(r.PostFormValue(csrfField), a.keys.signInToken(nonce)) {
		a.errorPage(w, r, http.StatusForbidden, "Request refused",
			"The sign-in form was stale or did not come from this site. Open the sign-in page again.")
		return
	}
	p, err := apikey.Authenticate(r.Context(), a.db, "Bearer "+strings.TrimSpace(r.PostFormValue("token")))
	if err == nil && !holdsScopes(p.Scopes) {
		err = apikey.ErrUnauthenticated
	}
	switch {
	case errors.Is(err, apikey.ErrUnauthenticated):
		a.renderSignIn(w, r, http.StatusUnauthorized, signInRefused)
		return
	case err != nil:
		a.internalError(w, r, "signing in", err)
		return
	}
	if err := a.startSession(w, r, p); err != nil {
		a.internalError(w, r, "starting an admin session", err)
		return
	}
	http.SetCookie(w, a.cookie(signInCookie, "", -1))
	seeOther(w, r, "/admin")
}

// signOut answers POST /admin/sign-out: it deletes the session, so
// its cookie, wherever a copy of it is, opens nothing on any replica, and
// then the cookie.
func (a *Pages) signOut(w http.ResponseWriter, r *http.Request) {
	sess, _ := sessionFrom(r.Context())
	if err := a.stopSession(r, sess, apikey.PrincipalFrom(r.Context())); err != nil {
		a.internalError(w, r, "signing out", err)
		return
	}
	a.endSession(w)
	seeOther(w, r, "/admin/sign-in")
}
