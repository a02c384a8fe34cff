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

package ledger

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Kind is what a conversion records.
type Kind string

const (
	// Lead is a sign-up: a customer the merchant now knows.
	Lead Kind = "lead"
	// Sale is a payment, which may earn a commission.
	Sale Kind = "sale"
)

// Conversion is a tracked lead or sale. A sale's amount is in integer
// minor units of its currency; a lead has amount 0 and no currency. The
// affiliate and campaign are those the customer was attributed to when it
// was tracked.
type Conversion struct {
	Object      string     `json:"object"`
	ID          uuid.UUID  `json:"id"`
	Kind        Kind       `json:"kind"`
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

func scanConversion(row pgx.Row) (Conversion, error) {
	c := Conversion{Object: "conversion"}
	err := row.Scan(&c.ID, &c.Kind, &c.ExternalID, &c.CustomerID, &c.Amount, &c.Currency, &c.AffiliateID, &c.CampaignID,
		&c.OccurredAt, &c.CreatedAt)
	return c, db.MapError(err)
}

// GetConversion reads conversion id of org, or db.ErrNotFound.
func GetConversion(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Conversion, error) {
	return Get(ctx, tx, org, conversionQuery, id)
}

// ConversionFilter keeps the conversions of one customer, of one kind, or
// both; nil keeps all.
type ConversionFilter struct {
	CustomerID *uuid.UUID
	Kind       *Kind
}

// ListConversions reads a page of org's conversions that f keeps.
func ListConversions(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, f ConversionFilter) (List[Conversion], error) {
	q := conversionQuery
	q.Where = `($4::uuid IS NULL OR customer_id = $4) AND ($5::text IS NULL OR kind = $5)`
	return ListPage(ctx, tx, org, q, p, f.CustomerID, f.Kind)
}

var conversionQuery = Query[Conversion]{Table: "conversions", Columns: conversionColumns, Scan: scanConversion}
