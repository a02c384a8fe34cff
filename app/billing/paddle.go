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
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/PaddleHQ/paddle-go-sdk/v4/pkg/paddlenotification"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// Paddle Billing effects, read with the notification types of Paddle's Go
// SDK:
//
//   - transaction.completed records a sale: its grand total, in minor
//     units, in its currency, billed at billed_at, by its customer
//     ("paddle:ctm_..."), once per transaction ("paddle:txn_..."). A
//     subscription's renewals are transactions of the same customer, so
//     each earns under the campaign's recurrence rules.
//   - subscription.created and subscription.activated attribute the
//     customer, and credit its earlier sales, as Stripe's customer events
//     do.
//   - adjustment.created and adjustment.updated: an approved refund takes
//     back its total ("paddle:adjustment:adj_..."); a chargeback opens a
//     dispute of the transaction and a chargeback_reverse wins it back
//     ("paddle:chargeback:txn_..."). Credits, warnings and adjustments not
//     approved take nothing.
//
// The referral is custom_data's rekomi_ref (or referral): a visitor id or
// a link code. The promo codes are custom_data's promo_code, then the code
// of the transaction's discount_id, read from the discount.created or
// .updated event stored for it.

// paddleEffect is the effect of a Paddle event type, or nil.
func (fx *Effects) paddleEffect(eventType string) effect {
	switch eventType {
	case "transaction.completed":
		return fx.paddleTransactionCompleted
	case "subscription.created", "subscription.activated":
		return fx.paddleSubscriptionStarted
	case "adjustment.created", "adjustment.updated":
		return fx.paddleAdjusted
	}
	return nil
}

// paddleReductionTypes are the event types whose payload data names a sale's
// reductions, for finding them when the sale comes later.
var paddleReductionTypes = []string{"adjustment.created", "adjustment.updated"}

func (fx *Effects) paddleTransactionCompleted(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var n paddlenotification.TransactionCompleted
	if err := json.Unmarshal(ev.Payload, &n); err != nil {
		return unusable("the payload is not a Paddle transaction event: %w", err)
	}
	d := n.Data
	if d.CustomerID == nil || optionalText(d.ID) == "" || optionalText("paddle:"+d.ID) == "" ||
		optionalText(*d.CustomerID) == "" || optionalText("paddle:"+*d.CustomerID) == "" {
		return unusable("the transaction has no id or no customer, or one too long")
	}
	total := d.Details.Totals.GrandTotal
	if total == "" {
		total = d.Details.Totals.Total
	}
	amount, err := strconv.ParseInt(total, 10, 64)
	if err != nil || amount < 0 {
		return unusable("transaction %s has no total in minor units (%q)", d.ID, total)
	}
	currency := strings.ToUpper(string(d.CurrencyCode))
	if !ledger.ValidCurrency(currency) {
		return unusable("transaction %s is in an unknown currency %q", d.ID, d.CurrencyCode)
	}
	promo, err := paddlePromoCodes(ctx, tx, org, d.CustomData, d.DiscountID)
	if err != nil {
		return err
	}
	s := providerSale{customer: "paddle:" + *d.CustomerID, sale: "paddle:" + d.ID, referral: paddleReferral(d.CustomData),
		promo: promo, amount: amount, currency: currency, at: paddleTime(n.OccurredAt, d.BilledAt)}
	return fx.recordSale(ctx, tx, org, ev, s, storedPaddleReductions)
}

func (fx *Effects) paddleSubscriptionStarted(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var n paddlenotification.SubscriptionCreated
	if err := json.Unmarshal(ev.Payload, &n); err != nil {
		return unusable("the payload is not a Paddle subscription event: %w", err)
	}
	d := n.Data
	if optionalText(d.CustomerID) == "" || optionalText("paddle:"+d.CustomerID) == "" {
		return unusable("the subscription names no customer, or one too long")
	}
	promo, err := paddlePromoCodes(ctx, tx, org, d.CustomData, nil)
	if err != nil {
		return err
	}
	c := customerReferral{id: "paddle:" + d.CustomerID, referral: paddleReferral(d.CustomData), promo: promo,
		at: paddleTime(n.OccurredAt, d.StartedAt), idKey: "paddle_customer"}
	return fx.syncCustomer(ctx, tx, org, ev, c, fx.replayPaddleReductions)
}

func (fx *Effects) paddleAdjusted(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	sale, r, ok, err := paddleReductionOf(ev.Payload)
	if err != nil || !ok {
		return err
	}
	return fx.reduceProviderSale(ctx, tx, org, ev, sale, r)
}

// paddleReductionOf reads an adjustment: the sale it reduces and how, and
// whether it reduces anything.
func paddleReductionOf(payload []byte) (sale string, r ledger.Reduction, ok bool, err error) {
	var n paddlenotification.AdjustmentCreated
	if err := json.Unmarshal(payload, &n); err != nil {
		return "", r, false, unusable("the payload is not a Paddle adjustment event: %w", err)
	}
	d := n.Data
	if optionalText(d.ID) == "" || optionalText(d.TransactionID) == "" {
		return "", r, false, unusable("the adjustment has no id or no transaction")
	}
	meta := map[string]any{"paddle_adjustment": d.ID, "paddle_transaction": d.TransactionID, "paddle_action": string(d.Action)}
	r = ledger.Reduction{Currency: strings.ToUpper(string(d.CurrencyCode)), Metadata: meta}
	switch {
	case d.Status != paddlenotification.AdjustmentStatusApproved:
		return "", r, false, nil // pending, rejected or reversed: nothing is taken back
	case d.Action == paddlenotification.AdjustmentActionRefund:
		r.Kind, r.Source, r.State = ledger.Refund, "paddle:adjustment:"+d.ID, ledger.ReductionRefunded
	case d.Action == paddlenotification.AdjustmentActionChargeback:
		r.Kind, r.Source, r.State = ledger.Dispute, "paddle:chargeback:"+d.TransactionID, ledger.DisputeOpen
	case d.Action == paddlenotification.AdjustmentActionChargebackReverse:
		r.Kind, r.Source, r.State = ledger.Dispute, "paddle:chargeback:"+d.TransactionID, ledger.DisputeWon
	default:
		return "", r, false, nil // a credit or a warning takes nothing back
	}
	amount, err := strconv.ParseInt(d.Totals.Total, 10, 64)
	if err != nil || amount <= 0 {
		return "", r, false, unusable("adjustment %s has no total in minor units (%q)", d.ID, d.Totals.Total)
	}
	r.Amount = amount
	return "paddle:" + d.TransactionID, r, true, nil
}

// storedPaddleReductions finds the approved adjustments stored for sale.
func storedPaddleReductions(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale string) ([]ledger.Reduction, error) {
	txn := strings.TrimPrefix(sale, "paddle:")
	doc, err := json.Marshal(map[string]any{"data": map[string]any{"transaction_id": txn}})
	if err != nil {
		return nil, unusable("encoding a containment document: %w", err)
	}
	found, err := storedEventsOf(ctx, tx, org, "paddle", paddleReductionTypes, doc)
	if err != nil {
		return nil, err
	}
	var out []ledger.Reduction
	for _, payload := range found {
		if s, r, ok, err := paddleReductionOf(payload); err == nil && ok && s == sale {
			out = append(out, r)
		}
	}
	return out, nil
}

// replayPaddleReductions applies to sale the adjustments stored before it.
func (fx *Effects) replayPaddleReductions(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, sale string) error {
	return fx.applyStoredReductions(ctx, tx, org, ev, sale, storedPaddleReductions)
}

// paddleReferral is the referral custom_data carries.
func paddleReferral(data paddlenotification.CustomData) string {
	for _, k := range []string{"rekomi_ref", "referral"} {
		if v, ok := data[k].(string); ok && optionalText(v) != "" {
			return v
		}
	}
	return ""
}

// paddlePromoCodes are custom_data's promo_code, then the code of
// discount, as its latest stored discount event says.
func paddlePromoCodes(ctx context.Context, tx pgx.Tx, org uuid.UUID, data paddlenotification.CustomData, discount *string) ([]string, error) {
	var codes []string
	if v, ok := data["promo_code"].(string); ok && optionalText(v) != "" {
		codes = append(codes, optionalText(v))
	}
	if discount == nil || optionalText(*discount) == "" {
		return codes, nil
	}
	doc, err := json.Marshal(map[string]any{"data": map[string]any{"id": *discount}})
	if err != nil {
		return nil, unusable("encoding a containment document: %w", err)
	}
	found, err := storedEventsOf(ctx, tx, org, "paddle", []string{"discount.created", "discount.updated", "discount.imported"}, doc)
	if err != nil {
		return nil, err
	}
	code := ""
	for _, payload := range found {
		var n paddlenotification.DiscountCreated
		if json.Unmarshal(payload, &n) == nil && n.Data.ID == *discount && n.Data.Code != nil {
			code = optionalText(*n.Data.Code)
		}
	}
	if code != "" {
		codes = append(codes, code)
	}
	return codes, nil
}

// paddleTime is the first of the times given that parses, or now.
func paddleTime(occurred string, preferred *string) time.Time {
	for _, v := range []*string{preferred, &occurred} {
		if v == nil {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, *v); err == nil {
			return at.UTC()
		}
	}
	return time.Now().UTC()
}
