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
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

const (
	defaultPageLimit = 10
	maxPageLimit     = 100
)

// parsePage reads limit (1 to 100, default 10) and starting_after (an
// object id). On failure it has written the problem and returns false.
func parsePage(w http.ResponseWriter, r *http.Request) (ledger.Page, bool) {
	p := ledger.Page{Limit: defaultPageLimit}
	q := r.URL.Query()
	var errs ledger.FieldErrors
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			errs.Add("limit", "must be an integer from 1 to 100")
		}
		p.Limit = n
	}
	if v := q.Get("starting_after"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs.Add("starting_after", "must be an object id")
		}
		p.StartingAfter = &id
	}
	if len(errs) > 0 {
		invalidQuery(w, r, "Invalid pagination", errs)
		return ledger.Page{}, false
	}
	return p, true
}

// list answers what read reads in the principal's tenant transaction: a
// page of objects.
func (s *Server) list(w http.ResponseWriter, r *http.Request, doing string,
	read func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error)) {
	p := principalFrom(r.Context())
	var v any
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		var err error
		v, err = read(r.Context(), tx, p.OrgID)
		return err
	})
	s.answer(w, r, doing, http.StatusOK, v, err)
}

// pathID reads the {id} path segment. On failure it has answered 404: an
// id that cannot exist is simply not found.
func pathID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeProblem(w, r, Problem{Type: "not_found", Title: "No such object", Status: http.StatusNotFound})
		return uuid.Nil, false
	}
	return id, true
}
