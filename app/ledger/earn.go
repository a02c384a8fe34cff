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
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// EarningFacts is what decides whether an attributed customer's sale earns
// a commission: its affiliate, the campaign of the link it was attributed
// to, and when the customer first Earned a commission in that campaign.
type EarningFacts struct {
	AffiliateStatus  string
	CampaignID       uuid.UUID
	Archived         bool
	CommissionType   string
	PercentBps       *int
	FlatAmount       *int64
	CampaignCurrency string
	Recurrence       string
	RecurringMonths  *int
	HoldDays         int
	// firstEarned is when the customer's earliest sale that Earned a
	// commission in the campaign (whatever became of the commission)
	// happened; nil if none has.
	FirstEarned *time.Time
}

// ReadEarningFacts gathers the facts for customer c, attributed to a link
// or a promo code: it earns in the campaign it was attributed into, which
// moving its promo code to another campaign later does not change (a
// customer the previous release attributed during a rollout has none
// recorded, and earns in its link's or promo code's).
func ReadEarningFacts(ctx context.Context, tx pgx.Tx, org uuid.UUID, c Customer) (*EarningFacts, error) {
	var f EarningFacts
	err := tx.QueryRow(ctx, `SELECT a.status, cp.id, cp.archived_at IS NOT NULL, cp.commission_type, cp.commission_bps,
			cp.commission_amount, cp.currency, cp.recurrence, cp.recurring_months, cp.hold_days,
			(SELECT min(cv.occurred_at) FROM commissions cm
				JOIN conversions cv ON cv.org_id = cm.org_id AND cv.id = cm.conversion_id
				WHERE cm.org_id = $1 AND cm.campaign_id = cp.id AND cv.customer_id = $2)
		FROM campaigns cp
		JOIN affiliates a ON a.org_id = cp.org_id AND a.id = $3
		WHERE cp.org_id = $1 AND cp.id = coalesce(
			(SELECT cu.campaign_id FROM customers cu WHERE cu.org_id = $1 AND cu.id = $2),
			(SELECT l.campaign_id FROM referral_links l WHERE l.org_id = $1 AND l.id = $4),
			(SELECT p.campaign_id FROM promo_codes p WHERE p.org_id = $1 AND p.id = $5))`,
		org, c.ID, *c.AffiliateID, c.LinkID, c.PromoCodeID).Scan(
		&f.AffiliateStatus, &f.CampaignID, &f.Archived, &f.CommissionType, &f.PercentBps, &f.FlatAmount,
		&f.CampaignCurrency, &f.Recurrence, &f.RecurringMonths, &f.HoldDays, &f.FirstEarned)
	if err != nil {
		return nil, fmt.Errorf("reading the campaign and affiliate of customer %s: %w", c.ID, db.MapError(err))
	}
	return &f, nil
}

// SaleFacts is the sale being tracked.
type SaleFacts struct {
	Amount       int64
	Currency     string
	OccurredAt   time.Time
	SelfReferral bool
}

// Earned is the commission a sale earns.
type Earned struct {
	Amount       int64
	Currency     string
	ApproveAfter time.Time
}

// DecideCommission says what sale earns under f (nil: the customer is not
// attributed to a link), or why it earns nothing. Each check is one rule.
func DecideCommission(f *EarningFacts, sale SaleFacts) (Earned, string) {
	switch {
	case f == nil: // no referral, no commission
		return Earned{}, "not_attributed"
	case sale.SelfReferral: // an affiliate does not earn on their own purchases
		return Earned{}, "self_referral"
	case f.AffiliateStatus != "active": // invited, pending and suspended affiliates earn nothing
		return Earned{}, "affiliate_not_active"
	case f.Archived: // an archived campaign pays no new commissions
		return Earned{}, "campaign_archived"
	case !withinRecurrence(f, sale.OccurredAt): // the campaign pays only some of a customer's sales
		return Earned{}, "recurrence_exhausted"
	}
	e := Earned{Currency: sale.Currency, ApproveAfter: sale.OccurredAt.UTC().AddDate(0, 0, f.HoldDays)}
	if f.CommissionType == "flat" {
		e.Amount, e.Currency = *f.FlatAmount, f.CampaignCurrency
	} else {
		e.Amount = percentOf(sale.Amount, *f.PercentBps)
	}
	if e.Amount == 0 { // a commission is never zero
		return Earned{}, "zero_amount"
	}
	return e, ""
}

// withinRecurrence: one_time pays the customer's first commissionable sale
// only, recurring the sales within recurringMonths of it (the first month
// boundary excluded), lifetime every sale.
func withinRecurrence(f *EarningFacts, at time.Time) bool {
	switch {
	case f.FirstEarned == nil || f.Recurrence == "lifetime":
		return true
	case f.Recurrence == "recurring":
		return at.Before(addMonths(*f.FirstEarned, *f.RecurringMonths))
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

// EarnCommission creates the commission conv earns, if any, and records
// the outcome in the audit metadata meta: commission_id, or
// commission_skipped with the reason.
func EarnCommission(ctx context.Context, tx pgx.Tx, org uuid.UUID, conv Conversion, c Customer,
	f *EarningFacts, meta map[string]any) (*Commission, error) {
	e, skipped := DecideCommission(f, SaleFacts{Amount: conv.Amount, Currency: *conv.Currency, OccurredAt: conv.OccurredAt,
		SelfReferral: c.SelfReferral})
	if skipped != "" {
		meta["commission_skipped"] = skipped
		return nil, nil
	}
	created, err := scanCommission(tx.QueryRow(ctx, `INSERT INTO commissions (org_id, conversion_id, affiliate_id, campaign_id,
		amount, currency, approve_after) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+commissionColumns,
		org, conv.ID, *c.AffiliateID, f.CampaignID, e.Amount, e.Currency, e.ApproveAfter))
	if err != nil {
		return nil, fmt.Errorf("creating the commission of sale %s: %w", conv.ID, err)
	}
	meta["commission_id"], meta["commission_amount"], meta["commission_currency"] = created.ID, created.Amount, created.Currency
	return &created, nil
}
