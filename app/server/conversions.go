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
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// conversionObject is a tracked lead or sale. A sale's amount is in integer
// minor units of its currency; a lead has amount 0 and no currency. The
// affiliate and campaign are those the customer was attributed to when it
// was tracked.
type conversionObject struct {
	Object      string     `json:"object"`
	ID          uuid.UUID  `json:"id"`
	Kind        string     `json:"kind"`
	ExternalID  *string    `json:"external_id"`
	CustomerID  uuid.UUID  `json:"customer_id"`
	Amount      int64      `json:"amount"`
	Currency    *string    `json:"currency"`
	AffiliateID *uuid.UUID `json:"affiliate_id"`
	CampaignID  *uuid.UUID `json:"campaign_id"`
	OccurredAt  time.Time  `json:"occurred_at"`
	CreatedAt   time.Time  `json:"created_at"`
}

const conversionColumns = `id, kind, external_id, customer_id, amount, currency, affiliate_id, campaign_id, occurred_at, created_at`

func scanConversion(row pgx.Row) (conversionObject, error) {
	c := conversionObject{Object: "conversion"}
	err := row.Scan(&c.ID, &c.Kind, &c.ExternalID, &c.CustomerID, &c.Amount, &c.Currency, &c.AffiliateID, &c.CampaignID,
		&c.OccurredAt, &c.CreatedAt)
	return c, db.MapError(err)
}

func (s *Server) getConversion(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a conversion", selectByID("conversions", conversionColumns, scanConversion))
}

func (s *Server) listConversions(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	f := queryFilter{q: r.URL.Query()}
	customerID, kind := f.uuid("customer_id"), f.oneOf("kind", "lead", "sale")
	if !f.ok(w, r) {
		return
	}
	p := principalFrom(r.Context())
	conversions := []conversionObject{}
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), `SELECT `+conversionColumns+` FROM conversions WHERE org_id = $1
			AND ($4::uuid IS NULL OR customer_id = $4) AND ($5::text IS NULL OR kind = $5)
			AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM conversions WHERE org_id = $1 AND id = $2))
			ORDER BY created_at DESC, id DESC LIMIT $3`, p.OrgID, page.startingAfter, page.limit+1, customerID, kind)
		if err != nil {
			return db.MapError(err)
		}
		conversions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (conversionObject, error) { return scanConversion(row) })
		return err
	})
	s.answer(w, r, "listing conversions", http.StatusOK, newList(conversions, page.limit), err)
}

// queryFilter reads a list's optional filters from the query, collecting
// one error per invalid parameter; an absent parameter is nil.
type queryFilter struct {
	q    url.Values
	errs []ledger.FieldError
}

func (f *queryFilter) uuid(name string) *uuid.UUID {
	v := f.q.Get(name)
	if v == "" {
		return nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		f.errs = append(f.errs, ledger.FieldError{Field: name, Detail: "must be an object id"})
		return nil
	}
	return &id
}

func (f *queryFilter) oneOf(name string, allowed ...string) *string {
	v := f.q.Get(name)
	if v == "" {
		return nil
	}
	if !slices.Contains(allowed, v) {
		f.errs = append(f.errs, ledger.FieldError{Field: name, Detail: "must be one of " + strings.Join(allowed, ", ")})
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
	writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid query", Status: http.StatusBadRequest, Errors: f.errs})
	return false
}
