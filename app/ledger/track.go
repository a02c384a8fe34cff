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
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Tracking: the merchant's backend, or a provider's event, reports a lead
// (a sign-up) or a sale (a payment) of one of its customers. The customer
// is upserted by its external id and, the first time a referral can be
// found for it, attributed to an affiliate; a sale then earns that
// affiliate at most one commission under the campaign's rules. A
// conversion's external id makes tracking idempotent: the same id again
// records nothing.

// Tracking is a lead or sale to record, already validated.
type Tracking struct {
	Kind               Kind
	CustomerExternalID string
	Email              *string    // the customer's, if known
	VisitorID          *uuid.UUID // the attribution cookie's, if known
	ReferralCode       *string    // a link code, if known
	// PromoCodes are the promo codes the conversion carries, tried in
	// order when no click or link code attributes the customer.
	PromoCodes []string
	ExternalID *string // the order or invoice id; required for a sale
	OccurredAt time.Time
	Amount     int64   // a sale's, in minor units of Currency
	Currency   *string // a sale's
}

// Tracked is a recorded conversion, its customer as attributed and, for a
// sale, the commission it earned (nil: none).
type Tracked struct {
	Conversion Conversion
	Customer   Customer
	Commission *Commission
}

// referralCodePattern is what a link code looks like.
var referralCodePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)

// ValidReferralCode says whether code may be a link's code.
func ValidReferralCode(code string) bool { return referralCodePattern.MatchString(code) }

// Track records t unless a conversion of the same kind and external id
// exists, and reports whether it did; rec audits it in one entry
// (conversion.lead_tracked or conversion.sale_tracked). A savepoint lets a
// duplicate that lost the race on the conversion's unique key undo its
// customer upsert, changing nothing.
func Track(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, t Tracking) (Tracked, bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return Tracked{}, false, fmt.Errorf("starting a savepoint: %w", err)
	}
	tracked, err := record(ctx, sp, org, rec, t)
	if errors.Is(err, errDuplicateConversion) {
		return Tracked{}, false, db.Wrap("rolling back to the savepoint", sp.Rollback(ctx))
	}
	if err != nil {
		return Tracked{}, false, err
	}
	return tracked, true, db.Wrap("releasing the savepoint", sp.Commit(ctx))
}

// errDuplicateConversion: a conversion of the same kind and external id
// exists.
var errDuplicateConversion = errors.New("the conversion was already tracked")

// record upserts and attributes the customer, records the conversion and,
// for a sale, the commission it earns, and audits it all in one entry.
func record(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, t Tracking) (Tracked, error) {
	cust, _, err := UpsertCustomer(ctx, tx, org, t)
	if err != nil {
		return Tracked{}, err
	}
	wasAttributed := cust.AffiliateID != nil
	if cust, err = Attribute(ctx, tx, org, cust, t); err != nil {
		return Tracked{}, err
	}
	var facts *EarningFacts
	if cust.AffiliateID != nil && (cust.LinkID != nil || cust.PromoCodeID != nil) {
		if facts, err = ReadEarningFacts(ctx, tx, org, cust); err != nil {
			return Tracked{}, err
		}
	}
	conv, err := insertConversion(ctx, tx, org, t, cust, facts)
	if err != nil {
		return Tracked{}, err
	}
	meta := map[string]any{"customer_id": cust.ID, "affiliate_id": cust.AffiliateID, "campaign_id": conv.CampaignID,
		"attributed": !wasAttributed && cust.AffiliateID != nil, "attributed_by": cust.AttributedBy, "self_referral": cust.SelfReferral}
	if cust.PromoCodeID != nil {
		meta["promo_code_id"] = cust.PromoCodeID
	}
	tracked := Tracked{Conversion: conv, Customer: cust}
	if t.Kind == Sale {
		meta["amount"], meta["currency"] = conv.Amount, conv.Currency
		if tracked.Commission, err = EarnCommission(ctx, tx, org, conv, cust, facts, meta); err != nil {
			return Tracked{}, err
		}
	}
	err = rec.Record(ctx, tx, org, "conversion."+string(t.Kind)+"_tracked", "conversion", conv.ID.String(), meta, nil)
	return tracked, err
}

// insertConversion records the conversion, or returns
// errDuplicateConversion when its external id is taken (waiting, if a
// concurrent transaction holds it, for that one to end).
func insertConversion(ctx context.Context, tx pgx.Tx, org uuid.UUID, t Tracking, cust Customer, facts *EarningFacts) (Conversion, error) {
	var campaignID *uuid.UUID
	if facts != nil {
		campaignID = &facts.CampaignID
	}
	conv, err := scanConversion(tx.QueryRow(ctx, `INSERT INTO conversions (org_id, customer_id, kind, external_id, amount,
		currency, affiliate_id, campaign_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (org_id, kind, external_id) DO NOTHING RETURNING `+conversionColumns,
		org, cust.ID, t.Kind, t.ExternalID, t.Amount, t.Currency, cust.AffiliateID, campaignID, t.OccurredAt))
	if errors.Is(err, db.ErrNotFound) {
		return Conversion{}, errDuplicateConversion
	}
	if err != nil {
		return Conversion{}, fmt.Errorf("recording the %s: %w", t.Kind, err)
	}
	return conv, nil
}

// ReadTracked reads a conversion tracked before with t's kind and external
// id, as it was recorded.
func ReadTracked(ctx context.Context, tx pgx.Tx, org uuid.UUID, t Tracking) (Tracked, error) {
	conv, err := scanConversion(tx.QueryRow(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE org_id = $1 AND kind = $2 AND external_id = $3`, org, t.Kind, t.ExternalID))
	if err != nil {
		return Tracked{}, fmt.Errorf("reading the tracked %s: %w", t.Kind, err)
	}
	cust, err := GetCustomer(ctx, tx, org, conv.CustomerID)
	if err != nil {
		return Tracked{}, fmt.Errorf("reading the tracked %s's customer: %w", t.Kind, err)
	}
	tracked := Tracked{Conversion: conv, Customer: cust}
	if t.Kind == Lead {
		return tracked, nil
	}
	c, err := scanCommission(tx.QueryRow(ctx, `SELECT `+commissionColumns+` FROM commissions
		WHERE org_id = $1 AND conversion_id = $2`, org, conv.ID))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return tracked, nil
	case err != nil:
		return Tracked{}, fmt.Errorf("reading the tracked sale's commission: %w", err)
	}
	tracked.Commission = &c
	return tracked, nil
}

// Credited is an earlier sale credited to a referral late, and the
// commission it earned then (nil: none).
type Credited struct {
	Sale       Conversion
	Commission *Commission
	// Audit is what the crediting entry says of this sale.
	Audit map[string]any
}

// CreditEarlierSales credits cust's unattributed sales made since since to
// the referral cust was just attributed to, oldest first, each earning the
// commission it would have had it been attributed when made. The caller
// holds cust's row lock (UpsertCustomer takes it), so each sale is
// credited once.
func CreditEarlierSales(ctx context.Context, tx pgx.Tx, org uuid.UUID, cust Customer, since time.Time) ([]Credited, error) {
	rows, err := tx.Query(ctx, `SELECT `+conversionColumns+` FROM conversions WHERE org_id = $1 AND customer_id = $2
		AND kind = 'sale' AND affiliate_id IS NULL AND occurred_at >= $3 ORDER BY occurred_at, id`, org, cust.ID, since)
	if err != nil {
		return nil, fmt.Errorf("finding the customer's earlier sales: %w", db.MapError(err))
	}
	sales, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Conversion, error) { return scanConversion(row) })
	if err != nil {
		return nil, fmt.Errorf("reading the customer's earlier sales: %w", err)
	}
	credited := make([]Credited, 0, len(sales))
	for _, sale := range sales {
		c, err := creditSale(ctx, tx, org, cust, sale)
		if err != nil {
			return nil, err
		}
		credited = append(credited, c)
	}
	return credited, nil
}

// creditSale credits one earlier sale to cust's referral.
func creditSale(ctx context.Context, tx pgx.Tx, org uuid.UUID, cust Customer, sale Conversion) (Credited, error) {
	facts, err := ReadEarningFacts(ctx, tx, org, cust)
	if err != nil {
		return Credited{}, err
	}
	sale, err = scanConversion(tx.QueryRow(ctx, `UPDATE conversions SET affiliate_id = $3, campaign_id = $4
		WHERE org_id = $1 AND id = $2 RETURNING `+conversionColumns, org, sale.ID, *cust.AffiliateID, facts.CampaignID))
	if err != nil {
		return Credited{}, fmt.Errorf("crediting sale %s: %w", sale.ID, err)
	}
	c := Credited{Sale: sale, Audit: map[string]any{"conversion_id": sale.ID}}
	c.Commission, err = EarnCommission(ctx, tx, org, sale, cust, facts, c.Audit)
	return c, err
}
