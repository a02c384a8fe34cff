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
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

func (s *Server) getConversion(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a conversion", ledger.GetConversion)
}

func (s *Server) listConversions(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	q := queryFilter{q: r.URL.Query()}
	f := ledger.ConversionFilter{CustomerID: q.uuid("customer_id"), Kind: oneOf[ledger.Kind](&q, "kind", ledger.Lead, ledger.Sale)}
	if !q.ok(w, r) {
		return
	}
	s.list(w, r, "listing conversions", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListConversions(ctx, tx, org, page, f)
	})
}

// queryFilter reads a list's optional filters from the query, collecting
// one error per invalid parameter; an absent parameter is nil.
type queryFilter struct {
	q    url.Values
	errs ledger.FieldErrors
}

func (f *queryFilter) uuid(name string) *uuid.UUID {
	v := f.q.Get(name)
	if v == "" {
		return nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		f.errs.Add(name, "must be an object id")
		return nil
	}
	return &id
}

// oneOf reads parameter name, which must be one of allowed.
func oneOf[T ~string](f *queryFilter, name string, allowed ...T) *T {
	v := T(f.q.Get(name))
	if v == "" {
		return nil
	}
	if !slices.Contains(allowed, v) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		f.errs.Add(name, "must be one of "+strings.Join(names, ", "))
		return nil
	}
	return &v
}

// ok answers 400 with the collected errors, if any, and reports whether
// there were none.
func (f *queryFilter) ok(w http.ResponseWriter, r *http.Request) bool {
	if len(f.errs) == 0 {
		return true
	}
	invalidQuery(w, r, "Invalid query", f.errs)
	return false
}
