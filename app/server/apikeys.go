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
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

type createAPIKeyRequest struct {
	Name   string         `json:"name"`
	Scopes []ledger.Scope `json:"scopes"`
}

func (req createAPIKeyRequest) validate() ledger.FieldErrors {
	var errs ledger.FieldErrors
	if !ledger.ValidText(req.Name, 1, 200) {
		errs.Add("name", "must be 1 to 200 characters")
	}
	if len(req.Scopes) == 0 {
		errs.Add("scopes", "must list at least one of read, write")
	}
	for i, sc := range req.Scopes {
		if !sc.Valid() {
			errs.Add("scopes["+strconv.Itoa(i)+"]", "must be read or write")
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
	scopes := ledger.NormalizeScopes(req.Scopes)
	p := principalFrom(r.Context())
	if missing := scopesNotHeld(scopes, p.Scopes); len(missing) > 0 {
		writeProblem(w, r, Problem{Type: "insufficient_scope", Title: "An API key can only grant scopes it holds",
			Status: http.StatusForbidden, Detail: "this key does not hold " + strings.Join(missing, ", ")})
		return
	}
	s.mutate(w, r, "creating an API key", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		key, err := ledger.CreateAPIKey(ctx, tx, p.OrgID, s.requestRecorder(r),
			ledger.NewAPIKey{Name: req.Name, Scopes: scopes, CreatedBy: "api_key:" + p.KeyID.String()})
		return http.StatusCreated, key, err
	})
}

// scopesNotHeld lists the scopes of wanted that held lacks: a key cannot
// make a key more powerful than itself.
func scopesNotHeld[S ~string](wanted []S, held []string) []string {
	var missing []string
	for _, sc := range wanted {
		if !slices.Contains(held, string(sc)) {
			missing = append(missing, string(sc))
		}
	}
	return missing
}

func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading an API key", ledger.GetAPIKey)
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "revoking an API key", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		// Scopes never change, so the check holds until the revocation.
		key, err := ledger.GetAPIKey(ctx, tx, p.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		if missing := scopesNotHeld(key.Scopes, p.Scopes); len(missing) > 0 {
			return 0, nil, problemError{Problem{Type: "insufficient_scope", Status: http.StatusForbidden,
				Title:  "An API key can only revoke keys whose scopes it holds",
				Detail: "this key does not hold " + strings.Join(missing, ", ") + ", which the key to revoke holds"}}
		}
		key, _, err = ledger.RevokeAPIKey(ctx, tx, p.OrgID, s.requestRecorder(r), id)
		return http.StatusOK, key, err
	})
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	s.list(w, r, "listing API keys", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListAPIKeys(ctx, tx, org, page)
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
