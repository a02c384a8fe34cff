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

package billing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/text/currency"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Sales and their refunds and disputes from Paddle, Shopify and Braintree
// go through the same verbs as Stripe's: ledger.Track records a sale once
// per external id, attributing its customer to the referral it carries,
// and ledger.ReduceSale takes back the share a refund or dispute takes.
// Every id is prefixed with its provider's name ("paddle:txn_1",
// "shopify:order:42"), so that two providers' ids never meet in one
// organization. A refund or dispute stored before its sale is applied when
// the sale is recorded (applyStoredReductions).

// providerSale is a sale as a provider's event shows it.
type providerSale struct {
	customer, sale string
	email          *string
	// referral is a visitor id or a link code the sale carries, if any;
	// promo the promo codes it carries, tried in order.
	referral string
	promo    []string
	amount   int64
	currency string
	at       time.Time
}

// reductionReplayer applies to sale the refunds and disputes of it stored
// before it was recorded or credited.
type reductionReplayer func(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, sale string) error

// recordSale records s, and the refunds and disputes of it stored before
// it, which stored finds.
func (fx *Effects) recordSale(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, s providerSale, stored storedReductions) error {
	if s.amount == 0 {
		fx.log.Info("A sale of nothing earns nothing", "provider", ev.Provider, "event_id", ev.EventID, "org_id", org.String())
		return nil
	}
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	t := ledger.Tracking{Kind: ledger.Sale, CustomerExternalID: s.customer, Email: s.email, ExternalID: &s.sale,
		OccurredAt: s.at, Amount: s.amount, Currency: &s.currency}
	t.VisitorID, t.ReferralCode = referralOf(s.referral)
	t.PromoCodes = s.promo
	_, created, err := ledger.Track(ctx, tx, org, fx.recorder(ev), t)
	if isLedgerRefusal(err) {
		return unusable("the sale %s cannot be recorded: %w", s.sale, err)
	}
	if err != nil || !created {
		return err
	}
	return fx.applyStoredReductions(ctx, tx, org, ev, s.sale, stored)
}

// customerReferral is a provider's customer as an event shows it, and the
// referral and promo codes the event gives it.
type customerReferral struct {
	id       string
	email    *string
	referral string
	promo    []string
	at       time.Time
	// idKey names the provider's customer id in the audit entry, such as
	// "stripe_customer".
	idKey string
}

// syncCustomer upserts c, attributes it if it is not yet and its referral
// or a promo code names one, credits its earlier sales when it is
// attributed now (replaying the refunds and disputes stored before each),
// and audits what changed.
func (fx *Effects) syncCustomer(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, c customerReferral, replay reductionReplayer) error {
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	t := ledger.Tracking{Kind: ledger.Lead, CustomerExternalID: c.id, Email: c.email, OccurredAt: c.at, PromoCodes: c.promo}
	t.VisitorID, t.ReferralCode = referralOf(c.referral)
	before, changed, err := ledger.UpsertCustomer(ctx, tx, org, t)
	if err != nil {
		return err
	}
	cust, err := ledger.Attribute(ctx, tx, org, before, t)
	if err != nil {
		return err
	}
	meta := map[string]any{c.idKey: c.id, "affiliate_id": cust.AffiliateID, "link_id": cust.LinkID,
		"click_id": cust.ClickID, "self_referral": cust.SelfReferral}
	if cust.PromoCodeID != nil {
		meta["promo_code_id"], meta["attributed_by"] = cust.PromoCodeID, cust.AttributedBy
	}
	action := "customer.synced"
	switch {
	case before.AffiliateID == nil && cust.AffiliateID != nil:
		action = "customer.attributed"
		if meta["credited_sales"], err = fx.creditEarlierSales(ctx, tx, org, ev, cust, c.at.Add(-lateSaleWindow), replay); err != nil {
			return err
		}
	case !changed && cust.SelfReferral == before.SelfReferral:
		return nil
	}
	return fx.recorder(ev).Record(ctx, tx, org, action, "customer", cust.ID.String(), meta, nil)
}

// storedReductions finds, among the stored events, the refunds and
// disputes of a sale, as the sale's external id and each reduction.
type storedReductions func(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale string) ([]ledger.Reduction, error)

// applyStoredReductions records the reductions stored finds against sale.
func (fx *Effects) applyStoredReductions(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, sale string, stored storedReductions) error {
	if stored == nil {
		return nil
	}
	found, err := stored(ctx, tx, org, sale)
	if err != nil {
		return err
	}
	for _, r := range found {
		if err := reduceSale(ctx, tx, org, fx.recorder(ev), sale, r); err != nil && !isUnusable(err) {
			return err
		}
	}
	return nil
}

// reduceProviderSale records r against sale, or leaves it stored for the
// sale to find when the sale is not recorded yet.
func (fx *Effects) reduceProviderSale(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, sale string, r ledger.Reduction) error {
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	r.Metadata["sale"] = sale
	reduced, err := ledger.ReduceSale(ctx, tx, org, fx.recorder(ev), sale, r)
	if isLedgerRefusal(err) {
		return unusable("the %s %s cannot reduce sale %s: %w", r.Kind, r.Source, sale, err)
	}
	if err == nil && !reduced.Found {
		fx.log.Info("A "+string(r.Kind)+" of a sale not recorded yet; the sale applies it when it comes",
			"provider", ev.Provider, "event_id", ev.EventID, "org_id", org.String(), "sale", sale)
	}
	return err
}

// storedEventsOf returns the payloads of org's stored events of provider
// whose type is one of types and whose payload contains doc, oldest
// first.
func storedEventsOf(ctx context.Context, tx pgx.Tx, org uuid.UUID, provider string, types []string, doc []byte) ([][]byte, error) {
	rows, err := tx.Query(ctx, `SELECT payload::text FROM billing_events
		WHERE org_id = $1 AND provider = $2 AND type = ANY($3) AND payload @> $4::jsonb ORDER BY received_at, id`,
		org, provider, types, string(doc))
	if err != nil {
		return nil, fmt.Errorf("finding stored %s events: %w", provider, db.MapError(err))
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]byte, error) {
		var payload []byte
		err := row.Scan(&payload)
		return payload, err
	})
	return found, db.Wrap("reading stored events", db.MapError(err))
}

// minorUnits reads a decimal amount ("49.00") of currency code into its
// minor units (4900), refusing more decimals than the currency has (ISO
// 4217, from golang.org/x/text/currency), a sign or an exponent.
func minorUnits(amount, code string) (int64, string, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if !ledger.ValidCurrency(code) {
		return 0, "", unusable("the currency %q is not one a sale may be in", code)
	}
	unit, err := currency.ParseISO(code)
	if err != nil {
		return 0, "", unusable("the currency %q is unknown: %w", code, err)
	}
	scale, _ := currency.Standard.Rounding(unit)
	whole, frac, _ := strings.Cut(strings.TrimSpace(amount), ".")
	if whole == "" || len(whole) > 15 || strings.Trim(whole, "0123456789") != "" || len(frac) > scale ||
		strings.Trim(frac, "0123456789") != "" {
		return 0, "", unusable("the amount %q is not a decimal amount of %s", amount, code)
	}
	units, err := strconv.ParseInt(whole+frac+strings.Repeat("0", scale-len(frac)), 10, 64)
	if err != nil {
		return 0, "", unusable("the amount %q does not fit: %w", amount, err)
	}
	return units, code, nil
}

// optionalText is s trimmed, or "" when it is not a short text.
func optionalText(s string) string {
	s = strings.TrimSpace(s)
	if !ledger.ValidText(s, 1, 255) {
		return ""
	}
	return s
}
