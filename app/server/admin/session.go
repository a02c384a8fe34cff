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
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/server/ratelimit"
)

// An admin session is a row of admin_sessions and a signed cookie naming it:
//
//	base64url(payload) "." base64url(HMAC-SHA256(session key, payload))
//	payload: version (1) | key id length n (1) | key id (n) | session id (16)
//	         | organization id (16) | API key id (16) | expiry, Unix seconds (8)
//
// The MAC key is derived from the key ring key the payload names, so any
// replica holding the ring verifies it, and it keeps verifying after a
// rotation for as long as that key stays in the ring. A cookie that
// verifies is not enough: every request also reads the session's row and
// its API key from the database all replicas share, so signing out (which
// deletes the row), revoking the key, or taking its read or write scope
// ends the session on every replica at once. The CSRF token of a form is an
// HMAC of the session id under a second derived key.
const (
	sessionCookie   = "rekomi_admin"
	signInCookie    = "rekomi_admin_sign_in"
	sessionTTL      = 8 * time.Hour
	signInTTL       = time.Hour
	sessionVersion  = 1
	sessionPurpose  = "rekomi admin session v1"
	csrfPurpose     = "rekomi admin csrf v1"
	processKeyID    = "~process" // never a key ring id: '~' is not allowed there
	maxSessionBytes = 512
	csrfField       = "csrf_token"
)

// macKeys are the MAC keys of sessions and CSRF tokens, per key ring id;
// current signs new ones.
type macKeys struct {
	current string
	session map[string][]byte
	csrf    map[string][]byte
}

// newMACKeys derives the keys from ring, or, without one, draws random
// keys that live and die with this process.
func newMACKeys(ring *keyring.KeyRing, log *slog.Logger) macKeys {
	k := macKeys{session: map[string][]byte{}, csrf: map[string][]byte{}}
	if ring != nil {
		for _, id := range ring.KeyIDs() {
			sk, err := ring.DeriveKey(id, sessionPurpose)
			if err != nil {
				continue
			}
			ck, err := ring.DeriveKey(id, csrfPurpose)
			if err != nil {
				continue
			}
			k.session[id], k.csrf[id] = sk, ck
		}
		if _, ok := k.session[ring.Primary()]; ok {
			k.current = ring.Primary()
			return k
		}
		log.Warn("No admin session key derives from the key ring; admin sessions end when this process does")
	}
	k.current = processKeyID
	k.session[processKeyID], k.csrf[processKeyID] = randomBytes(32), randomBytes(32)
	return k
}

// randomBytes reads n bytes from crypto/rand, which never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// session is a signed-in browser: an organization's admin, by the API key
// it signed in with.
type session struct {
	keyID   string // the key ring id whose derived key signed it
	id      [16]byte
	org     uuid.UUID
	apiKey  uuid.UUID
	expires time.Time
}

func macOf(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// seal signs sess under its key id.
func (k macKeys) seal(sess session) string {
	payload := []byte{sessionVersion, byte(len(sess.keyID))}
	payload = append(payload, sess.keyID...)
	payload = append(payload, sess.id[:]...)
	payload = append(payload, sess.org[:]...)
	payload = append(payload, sess.apiKey[:]...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(sess.expires.Unix()))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(macOf(k.session[sess.keyID], payload))
}

// open verifies a cookie value: well-formed, signed under a key it knows,
// and not expired at now.
func (k macKeys) open(value string, now time.Time) (session, bool) {
	if len(value) > maxSessionBytes {
		return session{}, false
	}
	enc := base64.RawURLEncoding.Strict() // one encoding per value: unused bits must be zero
	p64, m64, ok := strings.Cut(value, ".")
	payload, err1 := enc.DecodeString(p64)
	mac, err2 := enc.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil || len(payload) < 2 || payload[0] != sessionVersion {
		return session{}, false
	}
	n := int(payload[1])
	if len(payload) != 2+n+16+16+16+8 {
		return session{}, false
	}
	sess := session{keyID: string(payload[2 : 2+n])}
	key, known := k.session[sess.keyID]
	if !known || !hmac.Equal(mac, macOf(key, payload)) {
		return session{}, false
	}
	rest := payload[2+n:]
	copy(sess.id[:], rest[:16])
	copy(sess.org[:], rest[16:32])
	copy(sess.apiKey[:], rest[32:48])
	sess.expires = time.Unix(int64(binary.BigEndian.Uint64(rest[48:])), 0)
	if !now.Before(sess.expires) {
		return session{}, false
	}
	return sess, true
}

// csrfToken is the token every form of sess carries.
func (k macKeys) csrfToken(sess session) string {
	return base64.RawURLEncoding.EncodeToString(macOf(k.csrf[sess.keyID], []byte("session\x00"), sess.id[:]))
}

// signInToken is the token of the sign-in form, tied to the sign-in
// cookie's nonce, so another site cannot sign a browser in to its own
// organization.
func (k macKeys) signInToken(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(macOf(k.csrf[k.current], []byte("sign-in\x00"), []byte(nonce)))
}

// validToken compares a token a form carried with the expected one in
// constant time.
func validToken(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) (session, bool) {
	sess, ok := ctx.Value(sessionKey{}).(session)
	return sess, ok
}

// cookie is an admin cookie with value, living for ttl (negative: delete).
func (a *Pages) cookie(name, value string, ttl time.Duration) *http.Cookie {
	maxAge := int(ttl / time.Second)
	if ttl < 0 {
		maxAge = -1
	}
	return &http.Cookie{Name: name, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteStrictMode}
}

// sessionTarget is the audit target type of sign-ins and sign-outs.
const sessionTarget = "admin_session"

// startSession signs in p's key: it stores the session, with its
// admin.signed_in entry in the same transaction (sweeping the
// organization's expired sessions on the way), then sets the cookie.
func (a *Pages) startSession(w http.ResponseWriter, r *http.Request, p apikey.Principal) error {
	sess := session{keyID: a.keys.current, org: p.OrgID, apiKey: p.KeyID,
		expires: time.Unix(time.Now().Add(sessionTTL).Unix(), 0)}
	copy(sess.id[:], randomBytes(len(sess.id)))
	ctx := r.Context()
	err := a.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE org_id = $1 AND expires_at <= now()`, p.OrgID); err != nil {
			return fmt.Errorf("sweeping expired admin sessions: %w", db.MapError(err))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO admin_sessions (org_id, id, api_key_id, expires_at) VALUES ($1, $2, $3, $4)`,
			p.OrgID, uuid.UUID(sess.id), p.KeyID, sess.expires); err != nil {
			return fmt.Errorf("storing the admin session: %w", db.MapError(err))
		}
		_, err := a.sealer.Append(ctx, tx, p.OrgID, a.entry(r, p, "admin.signed_in", sessionTarget,
			uuid.UUID(sess.id).String(), map[string]any{"expires_at": sess.expires.UTC().Format(time.RFC3339)}))
		return err
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, a.cookie(sessionCookie, a.keys.seal(sess), sessionTTL))
	return nil
}

// stopSession deletes the request's session, with its admin.signed_out
// entry in the same transaction; a session already gone records nothing.
func (a *Pages) stopSession(r *http.Request, sess session, p apikey.Principal) error {
	ctx := r.Context()
	return a.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM admin_sessions WHERE org_id = $1 AND id = $2`, p.OrgID, uuid.UUID(sess.id))
		if err != nil {
			return fmt.Errorf("deleting the admin session: %w", db.MapError(err))
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		_, err = a.sealer.Append(ctx, tx, p.OrgID, a.entry(r, p, "admin.signed_out", sessionTarget, uuid.UUID(sess.id).String(), nil))
		return err
	})
}

// entry is an audit entry of an administrator acting through p's key:
// the request's client address, user agent and request id, and
// metadata.
func (a *Pages) entry(r *http.Request, p apikey.Principal, action, targetType, targetID string, metadata map[string]any) audit.Entry {
	return audit.Entry{
		ActorType: audit.ActorAdmin, ActorID: p.KeyID.String(),
		Action: action, TargetType: targetType, TargetID: targetID,
		IP: a.clientIP(r), UserAgent: r.UserAgent(), RequestID: a.requestID(r.Context()),
		Metadata: metadata,
	}
}

// endSession deletes the browser's session cookie.
func (a *Pages) endSession(w http.ResponseWriter) {
	http.SetCookie(w, a.cookie(sessionCookie, "", -1))
}

// requireSession lets a request through with a valid, stored session whose
// API key still holds the read and write scopes, as that key's principal;
// otherwise it ends the session and sends the browser to sign in. A POST must also come from
// the admin pages and carry the session's CSRF token, or it is refused
// with 403 before anything runs. Requests count against the key's rate
// limit, as the API's do.
func (a *Pages) requireSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, p, err := a.signedIn(r)
		switch {
		case errors.Is(err, apikey.ErrUnauthenticated):
			a.endSession(w)
			seeOther(w, r, "/admin/sign-in")
			return
		case err != nil:
			a.internalError(w, r, "checking an admin session", err)
			return
		}
		if wait, ok := a.keyLimits.Allow(p.KeyID, a.now()); !ok {
			w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
			a.errorPage(w, r, http.StatusTooManyRequests, "Too many requests", "Wait a moment and try again.")
			return
		}
		r = r.WithContext(context.WithValue(apikey.WithPrincipal(r.Context(), p), sessionKey{}, sess))
		if r.Method == http.MethodPost && (!a.sameOrigin(r) || !validToken(r.PostFormValue(csrfField), a.keys.csrfToken(sess))) {
			a.errorPage(w, r, http.StatusForbidden, "Request refused",
				"The form was stale or did not come from this site. Go back, reload the page and try again.")
			return
		}
		next(w, r)
	}
}

// signedIn returns the request's session and the principal of its API
// key; apikey.ErrUnauthenticated when there is no valid session.
func (a *Pages) signedIn(r *http.Request) (session, apikey.Principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, apikey.Principal{}, apikey.ErrUnauthenticated
	}
	sess, ok := a.keys.open(c.Value, time.Now())
	if !ok {
		return session{}, apikey.Principal{}, apikey.ErrUnauthenticated
	}
	p, err := a.principal(r.Context(), sess)
	return sess, p, err
}

// principal reads the session's row and its API key: a session that
// ended (signed out, expired) or whose key is gone, revoked or without the
// read or write scope is apikey.ErrUnauthenticated.
func (a *Pages) principal(ctx context.Context, sess session) (apikey.Principal, error) {
	p := apikey.Principal{OrgID: sess.org, KeyID: sess.apiKey}
	var revoked *time.Time
	err := a.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT k.scopes, k.revoked_at FROM admin_sessions s
			JOIN api_keys k ON k.org_id = s.org_id AND k.id = s.api_key_id
			WHERE s.org_id = $1 AND s.id = $2 AND s.api_key_id = $3 AND s.expires_at > now()`,
			p.OrgID, uuid.UUID(sess.id), p.KeyID).Scan(&p.Scopes, &revoked)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return apikey.Principal{}, apikey.ErrUnauthenticated
	case err != nil:
		return apikey.Principal{}, err
	case revoked != nil || !holdsScopes(p.Scopes):
		return apikey.Principal{}, apikey.ErrUnauthenticated
	}
	return p, nil
}

// sameOrigin reports whether a form POST comes from the admin pages. A
// browser's Sec-Fetch-Site, which pages cannot forge, must be same-origin.
// Its Origin, when sent, must name this host, over https unless cookies
// are not Secure; "null" passes only with Sec-Fetch-Site, because the
// pages' Referrer-Policy: no-referrer makes browsers send it for their own
// forms. A client sending neither header is no browser another site can
// drive; the CSRF token still guards it.
func (a *Pages) sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	switch {
	case origin == "":
		return true
	case origin == "null":
		return site == "same-origin"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Host != r.Host || (u.Path != "" && u.Path != "/") {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && !a.secure)
}
