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
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Braintree effects, read from the notification's XML (app/webhook stores
// it as the "notification" string of the event's document; no Go SDK is
// served, so the shapes are those of Braintree's published SDKs, with
// dashed element names):
//
//   - subscription_charged_successfully records a sale: of the
//     subscription's transactions (the most recent first), the first sale
//     that charged (authorized, submitted for settlement, settling,
//     settled, or its settlement pending or confirmed), its amount in minor units of its currency, at its created-at, by its
//     customer ("braintree:customer:<id>", else the subscription's,
//     "braintree:subscription:<id>"), once per transaction
//     ("braintree:txn:<id>"). Each renewal is a transaction of the same
//     customer, so each earns under the campaign's recurrence rules.
//   - transaction_disbursed and transaction_settled record the same sale
//     of a transaction alone (a one-off sale, or a subscription's charge
//     again: still one sale). A transaction of no customer nor
//     subscription is its own customer ("braintree:guest:<id>"). A credit
//     (a refund) is no sale, nor is a transaction that did not charge
//     (its settlement declined).
//   - dispute_opened, dispute_disputed and dispute_under_review open a
//     dispute of the transaction ("braintree:dispute:<id>"), for its
//     amount disputed; dispute_won wins it; dispute_lost, dispute_accepted,
//     dispute_auto_accepted and dispute_expired (not answered in time: the
//     customer keeps the funds) lose it. A retrieval is a request for
//     information that takes no funds, and takes nothing back.
//
// Braintree sends no notification of a refund (refund_failed only reports
// one that failed), so a refund made in Braintree takes nothing back here.
//
// The referral is the transaction's custom field rekomi_ref (or referral):
// a visitor id or a link code. The promo codes are its custom field
// promo_code, then the ids of the subscription's discounts, then those of
// the transaction's. A custom field is an element named for its API name;
// a dashed name reads as the same field, as the SDKs read it.

// braintreeEffect is the effect of a Braintree notification kind, or nil.
func (fx *Effects) braintreeEffect(kind string) effect {
	switch kind {
	case "subscription_charged_successfully", "transaction_disbursed", "transaction_settled":
		return fx.braintreeCharged
	}
	if slices.Contains(braintreeDisputeKinds, kind) {
		return fx.braintreeDisputed
	}
	return nil
}

// braintreeDisputeKinds are the notification kinds that report a dispute.
var braintreeDisputeKinds = []string{"dispute_opened", "dispute_disputed", "dispute_under_review", "dispute_won",
	"dispute_lost", "dispute_accepted", "dispute_auto_accepted", "dispute_expired"}

// braintreeDisputeState is the state of a dispute a notification of kind
// reports.
func braintreeDisputeState(kind string) (string, bool) {
	switch kind {
	case "dispute_opened", "dispute_disputed", "dispute_under_review":
		return ledger.DisputeOpen, true
	case "dispute_won":
		return ledger.DisputeWon, true
	case "dispute_lost", "dispute_accepted", "dispute_auto_accepted", "dispute_expired":
		return ledger.DisputeLost, true
	}
	return "", false
}

// braintreeCharges are the statuses of a transaction that charged.
var braintreeCharges = []string{"authorized", "submitted_for_settlement", "settling", "settlement_pending",
	"settlement_confirmed", "settled"}

func (fx *Effects) braintreeCharged(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	s, ok, err := braintreeSaleOf(ev.Type, ev.Payload)
	if err != nil {
		return err
	}
	if !ok {
		fx.log.Info("A Braintree transaction that is not a charge is no sale", "event_id", ev.EventID, "org_id", org.String())
		return nil
	}
	return fx.recordSale(ctx, tx, org, ev, s, storedBraintreeReductions)
}

func (fx *Effects) braintreeDisputed(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	sale, r, ok, err := braintreeReductionOf(ev.Type, ev.Payload)
	if err != nil {
		return err
	}
	if !ok {
		fx.log.Info("A Braintree retrieval takes nothing back", "event_id", ev.EventID, "org_id", org.String())
		return nil
	}
	return fx.reduceProviderSale(ctx, tx, org, ev, sale, r)
}

// braintreeNotification is a notification's XML, as far as it is read.
type braintreeNotification struct {
	XMLName   xml.Name `xml:"notification"`
	Timestamp string   `xml:"timestamp"`
	Subject   struct {
		Subscription *braintreeSubscription `xml:"subscription"`
		Transaction  *braintreeTransaction  `xml:"transaction"`
		Dispute      *braintreeDispute      `xml:"dispute"`
	} `xml:"subject"`
}

type braintreeSubscription struct {
	ID           string                 `xml:"id"`
	Discounts    []braintreeDiscount    `xml:"discounts>discount"`
	Transactions []braintreeTransaction `xml:"transactions>transaction"`
}

type braintreeDiscount struct {
	ID string `xml:"id"`
}

type braintreeTransaction struct {
	ID             string `xml:"id"`
	Status         string `xml:"status"`
	Type           string `xml:"type"`
	Amount         string `xml:"amount"`
	Currency       string `xml:"currency-iso-code"`
	CreatedAt      string `xml:"created-at"`
	SubscriptionID string `xml:"subscription-id"`
	Customer       struct {
		ID    string `xml:"id"`
		Email string `xml:"email"`
	} `xml:"customer"`
	CustomFields braintreeFields     `xml:"custom-fields"`
	Discounts    []braintreeDiscount `xml:"discounts>discount"`
}

type braintreeDispute struct {
	ID             string `xml:"id"`
	Kind           string `xml:"kind"`
	Status         string `xml:"status"`
	Amount         string `xml:"amount"`
	AmountDisputed string `xml:"amount-disputed"`
	Currency       string `xml:"currency-iso-code"`
	Transaction    struct {
		ID string `xml:"id"`
	} `xml:"transaction"`
}

// braintreeFields are custom fields, each an element named for the
// field's API name.
type braintreeFields struct {
	Fields []struct {
		XMLName xml.Name
		Value   string `xml:",chardata"`
	} `xml:",any"`
}

// get is the value of the custom field name, dashed or not, or "".
func (f braintreeFields) get(name string) string {
	for _, field := range f.Fields {
		if strings.ReplaceAll(field.XMLName.Local, "-", "_") == name {
			return optionalText(field.Value)
		}
	}
	return ""
}

// parseBraintree reads a stored Braintree event: the document the webhook
// stores, and the notification's XML in it.
func parseBraintree(payload []byte) (braintreeNotification, error) {
	var doc struct {
		Timestamp    string `json:"timestamp"`
		Notification string `json:"notification"`
	}
	var n braintreeNotification
	if err := json.Unmarshal(payload, &doc); err != nil || doc.Notification == "" {
		return n, unusable("the payload is not a stored Braintree notification")
	}
	if err := xml.Unmarshal([]byte(doc.Notification), &n); err != nil {
		return n, unusable("the notification is not a Braintree notification's XML: %w", err)
	}
	if strings.TrimSpace(n.Timestamp) == "" {
		n.Timestamp = doc.Timestamp
	}
	return n, nil
}

// braintreeSaleOf reads a notification of kind as a sale, and whether its
// transaction is one.
func braintreeSaleOf(kind string, payload []byte) (providerSale, bool, error) {
	n, err := parseBraintree(payload)
	if err != nil {
		return providerSale{}, false, err
	}
	if kind != "subscription_charged_successfully" {
		t := n.Subject.Transaction
		if t == nil {
			return providerSale{}, false, unusable("the notification has no transaction")
		}
		status := strings.TrimSpace(t.Status)
		if !braintreeSaleType(*t) || status != "" && !slices.Contains(braintreeCharges, status) {
			return providerSale{}, false, nil
		}
		s, err := braintreeSale(*t, nil, n.Timestamp)
		return s, err == nil, err
	}
	sub := n.Subject.Subscription
	if sub == nil || optionalText(sub.ID) == "" {
		return providerSale{}, false, unusable("the notification has no subscription, or it has no id")
	}
	for _, t := range sub.Transactions {
		if braintreeSaleType(t) && slices.Contains(braintreeCharges, strings.TrimSpace(t.Status)) {
			s, err := braintreeSale(t, sub, n.Timestamp)
			return s, err == nil, err
		}
	}
	return providerSale{}, false, unusable("subscription %s has no transaction that charged", sub.ID)
}

// braintreeSaleType says whether t is a sale, not a credit.
func braintreeSaleType(t braintreeTransaction) bool {
	typ := strings.TrimSpace(t.Type)
	return typ == "" || typ == "sale"
}

// braintreeSale is the sale t records; sub is the subscription it
// charged, if the notification is of one, and sent when the notification
// was sent.
func braintreeSale(t braintreeTransaction, sub *braintreeSubscription, sent string) (providerSale, error) {
	sale := braintreeID("txn", t.ID)
	if sale == "" {
		return providerSale{}, unusable("the transaction has no id")
	}
	amount, currency, err := minorUnits(t.Amount, t.Currency)
	if err != nil {
		return providerSale{}, fmt.Errorf("transaction %s: %w", t.ID, err)
	}
	subscription := t.SubscriptionID
	var discounts []braintreeDiscount
	if sub != nil {
		subscription, discounts = sub.ID, sub.Discounts
	}
	customer := braintreeID("customer", t.Customer.ID)
	if customer == "" {
		customer = braintreeID("subscription", subscription)
	}
	if customer == "" {
		customer = braintreeID("guest", t.ID)
	}
	referral := t.CustomFields.get("rekomi_ref")
	if referral == "" {
		referral = t.CustomFields.get("referral")
	}
	var promo []string
	codes := append([]string{t.CustomFields.get("promo_code")}, braintreeDiscountIDs(slices.Concat(discounts, t.Discounts))...)
	for _, code := range codes {
		if code != "" && !slices.Contains(promo, code) {
			promo = append(promo, code)
		}
	}
	return providerSale{customer: customer, sale: sale, email: optionalEmail(strings.TrimSpace(t.Customer.Email)),
		referral: referral, promo: promo, amount: amount, currency: currency, at: braintreeTime(t.CreatedAt, sent)}, nil
}

// braintreeDiscountIDs are the ids of discounts, in order.
func braintreeDiscountIDs(discounts []braintreeDiscount) []string {
	ids := make([]string, 0, len(discounts))
	for _, d := range discounts {
		ids = append(ids, optionalText(d.ID))
	}
	return ids
}

// braintreeReductionOf reads a dispute notification of kind: the sale it
// reduces and how, and whether it reduces anything.
func braintreeReductionOf(kind string, payload []byte) (sale string, r ledger.Reduction, ok bool, err error) {
	state, known := braintreeDisputeState(kind)
	if !known {
		return "", r, false, nil
	}
	n, err := parseBraintree(payload)
	if err != nil {
		return "", r, false, err
	}
	d := n.Subject.Dispute
	if d == nil {
		return "", r, false, unusable("the notification has no dispute")
	}
	source, sale := braintreeID("dispute", d.ID), braintreeID("txn", d.Transaction.ID)
	if source == "" || sale == "" {
		return "", r, false, unusable("the dispute has no id or no transaction")
	}
	if strings.TrimSpace(d.Kind) == "retrieval" {
		return "", r, false, nil
	}
	disputed := d.AmountDisputed
	if strings.TrimSpace(disputed) == "" {
		disputed = d.Amount
	}
	amount, currency, err := minorUnits(disputed, d.Currency)
	if err != nil {
		return "", r, false, fmt.Errorf("dispute %s: %w", d.ID, err)
	}
	if amount == 0 {
		return "", r, false, unusable("dispute %s disputes no amount", d.ID)
	}
	meta := map[string]any{"braintree_dispute": optionalText(d.ID), "braintree_transaction": optionalText(d.Transaction.ID),
		"braintree_dispute_kind": optionalText(d.Kind), "braintree_dispute_status": optionalText(d.Status)}
	r = ledger.Reduction{Kind: ledger.Dispute, Source: source, Amount: amount, Currency: currency, State: state, Metadata: meta}
	return sale, r, true, nil
}

// storedBraintreeReductions finds the disputes stored for sale.
func storedBraintreeReductions(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale string) ([]ledger.Reduction, error) {
	var id strings.Builder
	if err := xml.EscapeText(&id, []byte(strings.TrimPrefix(sale, "braintree:txn:"))); err != nil {
		return nil, unusable("escaping a transaction id: %w", err)
	}
	found, err := storedBraintreeEvents(ctx, tx, org, braintreeDisputeKinds, "<id>"+id.String()+"</id>")
	if err != nil {
		return nil, err
	}
	var out []ledger.Reduction
	for _, ev := range found {
		if s, r, ok, err := braintreeReductionOf(ev.kind, ev.payload); err == nil && ok && s == sale {
			out = append(out, r)
		}
	}
	return out, nil
}

// storedEvent is a stored event's type and payload.
type storedEvent struct {
	kind    string
	payload []byte
}

// storedBraintreeEvents returns org's stored Braintree events whose kind
// is one of kinds and whose notification's XML contains text, oldest
// first. The XML is a string in the stored document, which containment
// cannot look into; strpos, unlike LIKE, gives no character of text a
// meaning of its own.
func storedBraintreeEvents(ctx context.Context, tx pgx.Tx, org uuid.UUID, kinds []string, text string) ([]storedEvent, error) {
	rows, err := tx.Query(ctx, `SELECT type, payload::text FROM billing_events
		WHERE org_id = $1 AND provider = 'braintree' AND type = ANY($2) AND strpos(payload->>'notification', $3) > 0
		ORDER BY received_at, id`, org, kinds, text)
	if err != nil {
		return nil, fmt.Errorf("finding stored braintree events: %w", db.MapError(err))
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedEvent, error) {
		var ev storedEvent
		err := row.Scan(&ev.kind, &ev.payload)
		return ev, err
	})
	return found, db.Wrap("reading stored events", db.MapError(err))
}

// braintreeID is Braintree's id of what names, prefixed ("braintree:" +
// what + ":" + id), or "" when id is empty or the whole is not a short
// text.
func braintreeID(what, id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	return optionalText("braintree:" + what + ":" + id)
}

// braintreeTime is the first of the times given that parses, or now.
func braintreeTime(times ...string) time.Time {
	for _, v := range times {
		if at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err == nil {
			return at.UTC()
		}
	}
	return time.Now().UTC()
}
