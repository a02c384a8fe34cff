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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// customerObject is a merchant's customer as tracking recorded it, with the
// referral it is attributed to, if any. A self-referral is attributed but
// earns no commission.
type customerObject struct {
	Object       string     `json:"object"`
	ID           uuid.UUID  `json:"id"`
	ExternalID   *string    `json:"external_id"`
	Email        *string    `json:"email"`
	AffiliateID  *uuid.UUID `json:"affiliate_id"`
	LinkID       *uuid.UUID `json:"link_id"`
	ClickID      *int64     `json:"click_id"`
	AttributedAt *time.Time `json:"attributed_at"`
	SelfReferral bool       `json:"self_referral"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

const customerColumns = `id, external_id, email, affiliate_id, link_id, click_id, attributed_at, self_referral, created_at, updated_at`

func scanCustomer(row pgx.Row) (customerObject, error) {
	c := customerObject{Object: "customer"}
	err := row.Scan(&c.ID, &c.ExternalID, &c.Email, &c.AffiliateID, &c.LinkID, &c.ClickID, &c.AttributedAt,
		&c.SelfReferral, &c.CreatedAt, &c.UpdatedAt)
	return c, db.MapError(err)
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a customer", selectByID("customers", customerColumns, scanCustomer))
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	customers := []customerObject{}
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), `SELECT `+customerColumns+` FROM customers WHERE org_id = $1
			AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM customers WHERE org_id = $1 AND id = $2))
			ORDER BY created_at DESC, id DESC LIMIT $3`, p.OrgID, page.startingAfter, page.limit+1)
		if err != nil {
			return db.MapError(err)
		}
		customers, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (customerObject, error) { return scanCustomer(row) })
		return err
	})
	s.answer(w, r, "listing customers", http.StatusOK, newList(customers, page.limit), err)
}
