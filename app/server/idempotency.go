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
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

const (
	// IdempotencyKeyHeader names a POST request so that a retry of it is
	// answered from the first attempt instead of running again.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader marks an answer replayed from a stored one.
	IdempotentReplayedHeader = "Idempotent-Replayed"
)

var (
	errIdempotencyKeyReuse = errors.New("the idempotency key was used for another request")
	// errStoredAnswerUnreadable is a stored answer sealed with a key the
	// server no longer holds (a retired key ring key, or a per-process key
	// of an earlier process).
	errStoredAnswerUnreadable = errors.New("the stored answer cannot be decrypted")
)

// stateConflict is a request that the current state of its object refuses,
// such as approving an affiliate who has not accepted the invite: a 409
// with detail as the problem's detail.
func stateConflict(detail string) error {
	return problemError{Problem{Type: "conflict", Title: "The request conflicts with the current state of the object",
		Status: http.StatusConflict, Detail: detail}}
}

// refusalProblem is the problem that answers a refusal of the ledger.
func refusalProblem(r *ledger.Refusal) Problem {
	status := http.StatusConflict
	if r.Kind == ledger.Unprocessable {
		status = http.StatusUnprocessableEntity
	}
	return Problem{Type: r.Code, Title: r.Title, Detail: r.Detail, Status: status}
}

// problemError is a refusal found inside a transaction that has a problem
// of its own rather than field errors; it is answered as it is.
type problemError struct{ Problem }

func (e problemError) Error() string { return e.Title }

// idempotencyRequest is a request's Idempotency-Key and the SHA-256 of its
// method, path and body.
type idempotencyRequest struct {
	key  string
	hash [sha256.Size]byte
}

type idempotencyKey struct{}

// idempotent reads the Idempotency-Key of a POST and the body it names, for
// mutate to claim, replay or store. Without the header it changes nothing.
func (s *Server) idempotent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, present := r.Header[http.CanonicalHeaderKey(IdempotencyKeyHeader)]
		if !present {
			next(w, r)
			return
		}
		if len(key) != 1 || !validIdempotencyKey(key[0]) {
			writeProblem(w, r, Problem{Type: "invalid_idempotency_key", Status: http.StatusBadRequest,
				Title: "The Idempotency-Key header must be 1 to 255 printable ASCII characters"})
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%s\n", r.Method, r.URL.Path)
		h.Write(body)
		req := idempotencyRequest{key: key[0]}
		h.Sum(req.hash[:0])
		r.Body = readCloser{bytes.NewReader(body)}
		next(w, r.WithContext(context.WithValue(r.Context(), idempotencyKey{}, req)))
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func validIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := range len(k) {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// response is an answer as stored and written: exactly these bytes go out
// the first time and on every replay.
type response struct {
	status      int
	contentType string
	body        []byte
}

// mutation is the effect of a write request inside its tenant transaction;
// it returns the status and object to answer with.
type mutation func(ctx context.Context, tx pgx.Tx) (int, any, error)

// mutate runs fn in the principal's tenant transaction once the
// organization is known to be active, and answers. With an Idempotency-Key,
// the key is locked first, so a concurrent duplicate waits, and the answer
// is stored in the same transaction as fn's effect; a repeat replays it.
// Only successful answers are stored: a failed request changed nothing and
// may be retried with the same key. afterCommit runs once the transaction
// has committed, before the answer is written (to drop cached copies of
// what changed).
func (s *Server) mutate(w http.ResponseWriter, r *http.Request, doing string, fn mutation, afterCommit ...func()) {
	ctx := r.Context()
	p := principalFrom(ctx)
	idem, hasKey := ctx.Value(idempotencyKey{}).(idempotencyRequest)
	var resp response
	replayed := false
	err := s.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		if err := ledger.RequireActive(ctx, tx, p.OrgID); err != nil {
			return err
		}
		if hasKey {
			stored, found, err := s.claimIdempotencyKey(ctx, tx, p, idem)
			if err != nil || found {
				resp, replayed = stored, found
				return err
			}
		}
		status, v, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		body, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding the answer: %w", err)
		}
		resp = response{status: status, contentType: "application/json", body: append(body, '\n')}
		if !hasKey {
			return nil
		}
		return s.storeAnswer(ctx, tx, p, idem, resp)
	})
	if err != nil {
		s.writeError(w, r, doing, err)
		return
	}
	for _, f := range afterCommit {
		f()
	}
	writeResponse(w, resp, replayed)
}

// storeAnswer keeps resp as the answer to the request idem names, in the
// transaction of the effect it reports. The body is sealed with the
// answers' key ring, bound to its organization, its API key and its
// Idempotency-Key: a stored answer can
// hold a secret shown once (a new API key, an invite token), and the
// database must never hold one in the clear.
func (s *Server) storeAnswer(ctx context.Context, tx pgx.Tx, p apikey.Principal, idem idempotencyRequest, resp response) error {
	sealed, err := s.answers.Encrypt(resp.body, answerAAD(p, idem))
	if err != nil {
		return fmt.Errorf("sealing the stored answer: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO idempotency_keys (org_id, api_key_id, key, request_hash, status, content_type, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.OrgID, p.KeyID, idem.key, idem.hash[:], resp.status, resp.contentType, sealed)
	return db.MapError(err)
}

// answerAAD binds a sealed answer to its organization, the API key that
// made the request, and the request's Idempotency-Key.
func answerAAD(p apikey.Principal, idem idempotencyRequest) []byte {
	return []byte("idempotency_answer/v2:" + p.OrgID.String() + ":" + p.KeyID.String() + ":" + idem.key)
}

// writeResponse writes an answer, marked when replayed from a stored one.
func writeResponse(w http.ResponseWriter, resp response, replayed bool) {
	if replayed {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	w.Header().Set("Content-Type", resp.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// claimIdempotencyKey takes a transaction lock on the API key's
// Idempotency-Key, which a concurrent request of the same API key with the
// same Idempotency-Key waits on until this transaction ends, drops the
// organization's answers older than 24 hours (this one's among them), and
// returns the stored answer if there is one. Another API key's answer is
// never found; an answer stored before answers named their API key is
// found for every key of the organization and cannot be opened (a 409).
func (s *Server) claimIdempotencyKey(ctx context.Context, tx pgx.Tx, p apikey.Principal, idem idempotencyRequest) (response, bool, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('idempotency_keys/' || $1 || '/' || $2 || '/' || $3, 0))`,
		p.OrgID.String(), p.KeyID.String(), idem.key); err != nil {
		return response{}, false, fmt.Errorf("locking the idempotency key: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE org_id = $1 AND created_at < now() - interval '24 hours'`,
		p.OrgID); err != nil {
		return response{}, false, fmt.Errorf("expiring the idempotency key: %w", db.MapError(err))
	}
	var stored response
	var hash []byte
	err := tx.QueryRow(ctx, `SELECT request_hash, status, content_type, body FROM idempotency_keys
		WHERE org_id = $1 AND key = $2 AND (api_key_id = $3 OR api_key_id IS NULL)
		ORDER BY api_key_id NULLS LAST LIMIT 1`,
		p.OrgID, idem.key, p.KeyID).Scan(&hash, &stored.status, &stored.contentType, &stored.body)
	if errors.Is(err, pgx.ErrNoRows) {
		return response{}, false, nil
	}
	if err != nil {
		return response{}, false, fmt.Errorf("reading the idempotency key: %w", db.MapError(err))
	}
	if !bytes.Equal(hash, idem.hash[:]) {
		return response{}, false, errIdempotencyKeyReuse
	}
	if stored.body, err = s.answers.Decrypt(stored.body, answerAAD(p, idem)); err != nil {
		return response{}, false, fmt.Errorf("%w: %w", errStoredAnswerUnreadable, err)
	}
	return stored, true, nil
}

// writeError answers err as a problem: the sentinels a store or mutate
// returns map to their status; anything else is a logged 500.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	var fields ledger.FieldErrors
	var refused problemError
	var refusal *ledger.Refusal
	switch {
	case errors.As(err, &fields):
		validationFailed(w, r, fields)
	case errors.As(err, &refused):
		writeProblem(w, r, refused.Problem)
	case errors.As(err, &refusal):
		writeProblem(w, r, refusalProblem(refusal))
	case errors.Is(err, db.ErrNotFound):
		writeProblem(w, r, Problem{Type: "not_found", Title: "No such object", Status: http.StatusNotFound})
	case errors.Is(err, db.ErrConflict):
		writeProblem(w, r, Problem{Type: "conflict", Title: "An object with the same unique value already exists",
			Status: http.StatusConflict})
	case errors.Is(err, ledger.ErrOrganizationCancelled):
		writeProblem(w, r, Problem{Type: "organization_cancelled", Title: "The organization is cancelled",
			Status: http.StatusForbidden, Detail: "a cancelled organization can read but not write"})
	case errors.Is(err, errStoredAnswerUnreadable):
		s.log.Error("A stored idempotent answer cannot be decrypted", "error", err.Error(), "request_id", requestIDFrom(r.Context()))
		writeProblem(w, r, Problem{Type: "idempotency_answer_unavailable", Status: http.StatusConflict,
			Title:  "This Idempotency-Key names a request that already ran, whose answer can no longer be read",
			Detail: "the request was not run again; read the resulting objects with GET"})
	case errors.Is(err, errIdempotencyKeyReuse):
		writeProblem(w, r, Problem{Type: "idempotency_key_reused", Status: http.StatusConflict,
			Title: "This Idempotency-Key was already used with a different request"})
	default:
		s.internalError(w, r, doing, err)
	}
}
