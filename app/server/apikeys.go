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
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/db"
)

// apiKeyObject is an API key as the API shows it. Secret is set only in the
// answer that creates the key: it is stored nowhere but as a hash.
type apiKeyObject struct {
	Object    string     `json:"object"`
	ID        uuid.UUID  `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Secret    string     `json:"secret,omitempty"`
}

const apiKeyColumns = `id, name, prefix, scopes, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (apiKeyObject, error) {
	k := apiKeyObject{Object: "api_key"}
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedAt, &k.RevokedAt)
	return k, db.MapError(err)
}

type createAPIKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

func (req createAPIKeyRequest) validate() []ledger.FieldError {
	var errs []ledger.FieldError
	if n := utf8.RuneCountInString(req.Name); n < 1 || n > 200 {
		errs = append(errs, ledger.FieldError{Field: "name", Detail: "must be 1 to 200 characters"})
	}
	if len(req.Scopes) == 0 {
		errs = append(errs, ledger.FieldError{Field: "scopes", Detail: "must list at least one of read, write"})
	}
	for i, sc := range req.Scopes {
		if sc != ScopeRead && sc != ScopeWrite {
			errs = append(errs, ledger.FieldError{Field: "scopes[" + strconv.Itoa(i) + "]", Detail: "must be read or write"})
		}
	}
	return errs
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var req createAPIKeyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if errs := req.validate(); len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	slices.Sort(req.Scopes)
	req.Scopes = slices.Compact(req.Scopes)
	p := principalFrom(r.Context())
	if missing := scopesNotHeld(req.Scopes, p.Scopes); len(missing) > 0 {
		writeProblem(w, r, Problem{Type: "insufficient_scope", Title: "An API key can only grant scopes it holds",
			Status: http.StatusForbidden, Detail: "this key does not hold " + strings.Join(missing, ", ")})
		return
	}
	secret, prefix, err := apikey.Generate(rand.Reader)
	if err != nil {
		s.internalError(w, r, "generating an API key", err)
		return
	}
	hash := apikey.Hash(secret)
	s.mutate(w, r, "creating an API key", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		key, err := scanAPIKey(tx.QueryRow(ctx, `INSERT INTO api_keys (org_id, name, prefix, hash, scopes, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+apiKeyColumns, p.OrgID, req.Name, prefix, hash[:], req.Scopes, "api_key:"+p.KeyID.String()))
		if err != nil {
			return 0, nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('api_key_prefix', $1, $2, $3)`,
			prefix, p.OrgID, key.ID); err != nil {
			return 0, nil, db.MapError(err)
		}
		if _, err := s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "api_key.created", "api_key", key.ID.String(),
			map[string]any{"name": req.Name, "prefix": prefix, "scopes": req.Scopes})); err != nil {
			return 0, nil, err
		}
		key.Secret = secret
		return http.StatusCreated, key, nil
	})
}

// scopesNotHeld lists the scopes of wanted that held lacks: a key cannot
// make a key more powerful than itself.
func scopesNotHeld(wanted, held []string) []string {
	var missing []string
	for _, sc := range wanted {
		if !slices.Contains(held, sc) {
			missing = append(missing, sc)
		}
	}
	return missing
}

func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading an API key", selectByID("api_keys", apiKeyColumns, scanAPIKey))
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "revoking an API key", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		// Scopes never change, so the check holds until the update.
		var scopes []string
		if err := tx.QueryRow(ctx, `SELECT scopes FROM api_keys WHERE org_id = $1 AND id = $2`, p.OrgID, id).Scan(&scopes); err != nil {
			return 0, nil, db.MapError(err)
		}
		if missing := scopesNotHeld(scopes, p.Scopes); len(missing) > 0 {
			return 0, nil, problemError{Problem{Type: "insufficient_scope", Status: http.StatusForbidden,
				Title:  "An API key can only revoke keys whose scopes it holds",
				Detail: "this key does not hold " + strings.Join(missing, ", ") + ", which the key to revoke holds"}}
		}
		key, revoked, err := revokeKey(ctx, tx, p.OrgID, id)
		if err != nil || !revoked {
			return http.StatusOK, key, err
		}
		if _, err := s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "api_key.revoked", "api_key", id.String(), nil)); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, key, nil
	})
}

// revokeKey revokes an organization's API key and says whether it did: a
// key revoked before stays as it was, and there is nothing to audit. The
// API and the admin pages both revoke through it.
func revokeKey(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (apiKeyObject, bool, error) {
	key, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
	if err != nil || key.RevokedAt != nil {
		return key, false, err
	}
	key, err = scanAPIKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+apiKeyColumns, org, id))
	if err != nil {
		return key, false, fmt.Errorf("revoking API key %s: %w", id, err)
	}
	return key, true, nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	s.list(w, r, "listing API keys", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPage(ctx, tx, org, ledger.Query[apiKeyObject]{Table: "api_keys", Columns: apiKeyColumns, Scan: scanAPIKey}, page)
	})
}

// answer writes v, or err as a problem.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, doing string, status int, v any, err error) {
	if err != nil {
		s.writeError(w, r, doing, err)
		return
	}
	writeJSON(w, status, v)
}
