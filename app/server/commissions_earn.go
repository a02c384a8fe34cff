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
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// earningFacts is what decides whether an attributed customer's sale earns
// a commission: its affiliate, the campaign of the link it was attributed
// to, and when the customer first earned a commission in that campaign.
type earningFacts struct {
	affiliateStatus  string
	campaignID       uuid.UUID
	archived         bool
	commissionType   string
	percentBps       *int
	flatAmount       *int64
	campaignCurrency string
	recurrence       string
	recurringMonths  *int
	holdDays         int
	// firstEarned is when the customer's earliest sale that earned a
	// commission in the campaign (whatever became of the commission)
	// happened; nil if none has.
	firstEarned *time.Time
}

// readEarningFacts gathers the facts for customer c, attributed to a link.
func readEarningFacts(ctx context.Context, tx pgx.Tx, org uuid.UUID, c customerObject) (*earningFacts, error) {
	var f earningFacts
	err := tx.QueryRow(ctx, `SELECT a.status, cp.id, cp.archived_at IS NOT NULL, cp.commission_type, cp.commission_bps,
			cp.commission_amount, cp.currency, cp.recurrence, cp.recurring_months, cp.hold_days,
			(SELECT min(cv.occurred_at) FROM commissions cm
				JOIN conversions cv ON cv.org_id = cm.org_id AND cv.id = cm.conversion_id
				WHERE cm.org_id = $1 AND cm.campaign_id = cp.id AND cv.customer_id = $4)
		FROM referral_links l
		JOIN campaigns cp ON cp.org_id = l.org_id AND cp.id = l.campaign_id
		JOIN affiliates a ON a.org_id = l.org_id AND a.id = $3
		WHERE l.org_id = $1 AND l.id = $2`, org, *c.LinkID, *c.AffiliateID, c.ID).Scan(
		&f.affiliateStatus, &f.campaignID, &f.archived, &f.commissionType, &f.percentBps, &f.flatAmount,
		&f.campaignCurrency, &f.recurrence, &f.recurringMonths, &f.holdDays, &f.firstEarned)
	if err != nil {
		return nil, fmt.Errorf("reading the campaign and affiliate of customer %s: %w", c.ID, db.MapError(err))
	}
	return &f, nil
}

// saleFacts is the sale being tracked.
type saleFacts struct {
	amount       int64
	currency     string
	occurredAt   time.Time
	selfReferral bool
}

// earned is a commission to create.
type earned struct {
	amount       int64
	currency     string
	approveAfter time.Time
}

// decideCommission says what sale earns under f (nil: the customer is not
// attributed to a link), or why it earns nothing. Each check is one rule.
func decideCommission(f *earningFacts, sale saleFacts) (earned, string) {
	switch {
	case f == nil: // no referral, no commission
		return earned{}, "not_attributed"
	case sale.selfReferral: // an affiliate does not earn on their own purchases
		return earned{}, "self_referral"
	case f.affiliateStatus != "active": // invited, pending and suspended affiliates earn nothing
		return earned{}, "affiliate_not_active"
	case f.archived: // an archived campaign pays no new commissions
		return earned{}, "campaign_archived"
	case !withinRecurrence(f, sale.occurredAt): // the campaign pays only some of a customer's sales
		return earned{}, "recurrence_exhausted"
	}
	e := earned{currency: sale.currency, approveAfter: sale.occurredAt.UTC().AddDate(0, 0, f.holdDays)}
	if f.commissionType == "flat" {
		e.amount, e.currency = *f.flatAmount, f.campaignCurrency
	} else {
		e.amount = percentOf(sale.amount, *f.percentBps)
	}
	if e.amount == 0 { // a commission is never zero
		return earned{}, "zero_amount"
	}
	return e, ""
}

// withinRecurrence: one_time pays the customer's first commissionable sale
// only, recurring the sales within recurringMonths of it (the first month
// boundary excluded), lifetime every sale.
func withinRecurrence(f *earningFacts, at time.Time) bool {
	switch {
	case f.firstEarned == nil || f.recurrence == "lifetime":
		return true
	case f.recurrence == "recurring":
		return at.Before(addMonths(*f.firstEarned, *f.recurringMonths))
	}
	return false
}

// addMonths adds n calendar months to t in UTC, clamping the day to the
// target month's last (January 31 plus one month is February 28 or 29),
// as PostgreSQL does, where time.AddDate would spill into March.
func addMonths(t time.Time, n int) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// percentOf is amount * bps / 10000 rounded half up, in integers: amount
// is split so that no product can overflow (bps is at most 10000).
func percentOf(amount int64, bps int) int64 {
	q, r := amount/10000, amount%10000
	return q*int64(bps) + (r*int64(bps)+5000)/10000
}

// earnCommission creates the commission conv earns, if any, and records
// the outcome in the audit metadata meta: commission_id, or
// commission_skipped with the reason.
func earnCommission(ctx context.Context, tx pgx.Tx, org uuid.UUID, conv conversionObject, c customerObject,
	f *earningFacts, meta map[string]any) (*commissionObject, error) {
	e, skipped := decideCommission(f, saleFacts{amount: conv.Amount, currency: *conv.Currency, occurredAt: conv.OccurredAt,
		selfReferral: c.SelfReferral})
	if skipped != "" {
		meta["commission_skipped"] = skipped
		return nil, nil
	}
	created, err := scanCommission(tx.QueryRow(ctx, `INSERT INTO commissions (org_id, conversion_id, affiliate_id, campaign_id,
		amount, currency, approve_after) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+commissionColumns,
		org, conv.ID, *c.AffiliateID, f.campaignID, e.amount, e.currency, e.approveAfter))
	if err != nil {
		return nil, fmt.Errorf("creating the commission of sale %s: %w", conv.ID, err)
	}
	meta["commission_id"], meta["commission_amount"], meta["commission_currency"] = created.ID, created.Amount, created.Currency
	return &created, nil
}
