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
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Refunds and disputes. charge.refunded reports what has been refunded of
// a charge so far (amount_refunded); charge.dispute.created, .updated,
// .closed, .funds_withdrawn and .funds_reinstated report a dispute, its
// amount and its status. Each is recorded against the sale the charge paid
// with ledger.ReduceSale, which reduces the sale's commissions by the
// share of the sale refunded or disputed, to the cent, claws back that
// share of a paid one, and gives it back when the dispute is won
// (stripeDisputeStates; funds_reinstated says so too). A dispute lost
// keeps what it took; an inquiry takes nothing until it becomes a
// chargeback.
//
// Finding the sale: a charge rendered by an API version before 2025-03-31
// names its invoice (charge.invoice). Otherwise the invoice is found among
// the organization's stored events: an invoice_payment.paid naming the
// charge or its payment intent (API versions from 2025-03-31, whose
// invoice.paid no longer names them: the endpoint must subscribe to
// invoice_payment.paid), or an invoice.paid naming them (older versions).
// A dispute names only its charge and payment intent.
//
// Order: a refund or dispute that finds no sale changes nothing, but it
// stays stored; when the sale is later recorded (invoice.paid), credited
// (a late attribution) or linked to the charge (invoice_payment.paid),
// applyStoredReversals finds the refunds and disputes stored before and
// records them. ReduceSale keeps running
// totals and a dispute's final state whatever order reports arrive in, and
// the per-organization lock (lockPaymentEffects) makes the later of two
// events see the earlier.

// stripePayment names a charge and what it paid, as far as an event says.
type stripePayment struct {
	charge, intent, invoice string
}

// idOf is the id of an object Stripe may send as an id or expanded.
func idOf[T any](obj *T, id func(*T) string) string {
	if obj == nil {
		return ""
	}
	return id(obj)
}

// stripeDisputeTypes are the events that report a dispute.
var stripeDisputeTypes = []string{"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
	"charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated"}

func (fx *Effects) stripeChargeRefunded(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	p, r, err := stripeRefundOf(ev.Payload)
	if err != nil {
		return err
	}
	return fx.reducePayment(ctx, tx, org, ev, p, r)
}

func (fx *Effects) stripeDisputed(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	p, r, err := stripeDisputeOf(ev.Type, ev.Payload)
	if errors.Is(err, errInquiry) {
		return nil
	}
	if err != nil {
		return err
	}
	return fx.reducePayment(ctx, tx, org, ev, p, r)
}

// stripeRefundOf reads charge.refunded: the charge, and what has been
// refunded of it so far.
func stripeRefundOf(payload []byte) (stripePayment, ledger.Reduction, error) {
	var ch stripe.Charge
	e, err := parseStripe(payload, &ch)
	if err != nil {
		return stripePayment{}, ledger.Reduction{}, err
	}
	if err := validStripeID("charge", ch.ID); err != nil {
		return stripePayment{}, ledger.Reduction{}, err
	}
	// stripe-go follows the current API version, whose charges no longer
	// name their invoice; older versions' do.
	var legacy struct {
		Invoice *stripe.Invoice `json:"invoice"`
	}
	if err := json.Unmarshal(e.Data.Raw, &legacy); err != nil {
		return stripePayment{}, ledger.Reduction{}, unusable("charge %s has an unreadable invoice: %w", ch.ID, err)
	}
	if ch.AmountRefunded <= 0 {
		return stripePayment{}, ledger.Reduction{}, unusable("charge %s reports nothing refunded", ch.ID)
	}
	p := stripePayment{charge: ch.ID, intent: idOf(ch.PaymentIntent, func(pi *stripe.PaymentIntent) string { return pi.ID }),
		invoice: idOf(legacy.Invoice, func(in *stripe.Invoice) string { return in.ID })}
	r := ledger.Reduction{Kind: ledger.Refund, Source: "stripe:charge:" + ch.ID, Amount: ch.AmountRefunded,
		Currency: strings.ToUpper(string(ch.Currency)), SoFar: true, State: ledger.ReductionRefunded,
		Metadata: map[string]any{"stripe_charge": ch.ID}}
	return p, r, nil
}

// stripeDisputeStates are the states of a dispute by its status: open
// while the bank decides; won when it did for the merchant, when an
// inquiry closed without becoming a chargeback (warning_closed), or when
// the dispute was prevented (Visa's Rapid Dispute Resolution) or settled
// by refunding the charge (charge_refunded, no longer sent): those
// refunds come as charge.refunded and take their own share, so the
// dispute takes nothing; lost when the customer keeps the funds.
var stripeDisputeStates = map[stripe.DisputeStatus]string{
	stripe.DisputeStatusNeedsResponse: ledger.DisputeOpen, stripe.DisputeStatusUnderReview: ledger.DisputeOpen,
	stripe.DisputeStatusWon: ledger.DisputeWon, stripe.DisputeStatusWarningClosed: ledger.DisputeWon,
	stripe.DisputeStatusPrevented: ledger.DisputeWon, "charge_refunded": ledger.DisputeWon,
	stripe.DisputeStatusLost: ledger.DisputeLost,
}

// errInquiry is a dispute that takes nothing yet: an inquiry
// (warning_needs_response, warning_under_review), in which the bank asks
// questions and withdraws no funds. If it becomes a chargeback, its status
// then (needs_response) opens it.
var errInquiry = errors.New("an inquiry takes nothing")

// stripeDisputeOf reads a dispute event: the charge, and the dispute's
// amount and state.
func stripeDisputeOf(eventType string, payload []byte) (stripePayment, ledger.Reduction, error) {
	var d stripe.Dispute
	if _, err := parseStripe(payload, &d); err != nil {
		return stripePayment{}, ledger.Reduction{}, err
	}
	p := stripePayment{charge: idOf(d.Charge, func(c *stripe.Charge) string { return c.ID }),
		intent: idOf(d.PaymentIntent, func(pi *stripe.PaymentIntent) string { return pi.ID })}
	if err := validStripeID("disputed charge", p.charge); err != nil {
		return p, ledger.Reduction{}, err
	}
	if err := validStripeID("dispute", d.ID); err != nil {
		return p, ledger.Reduction{}, err
	}
	if d.Amount <= 0 {
		return p, ledger.Reduction{}, unusable("dispute %s disputes no amount", d.ID)
	}
	state, known := stripeDisputeStates[d.Status]
	switch {
	case eventType == "charge.dispute.funds_reinstated":
		state = ledger.DisputeWon
	case d.Status == stripe.DisputeStatusWarningNeedsResponse, d.Status == stripe.DisputeStatusWarningUnderReview:
		return p, ledger.Reduction{}, errInquiry
	case !known:
		return p, ledger.Reduction{}, unusable("dispute %s has the unknown status %q", d.ID, d.Status)
	}
	r := ledger.Reduction{Kind: ledger.Dispute, Source: "stripe:dispute:" + d.ID, Amount: d.Amount,
		Currency: strings.ToUpper(string(d.Currency)), State: state,
		Metadata: map[string]any{"stripe_charge": p.charge, "stripe_dispute": d.ID, "stripe_dispute_status": string(d.Status)}}
	return p, r, nil
}

// reducePayment records r against the sale p paid, if that sale is known
// yet.
func (fx *Effects) reducePayment(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, p stripePayment, r ledger.Reduction) error {
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	if p.invoice == "" {
		var err error
		if p.invoice, err = invoiceOfPayment(ctx, tx, org, p); err != nil {
			return err
		}
	}
	if p.invoice == "" {
		fx.log.Info("A Stripe charge's "+string(r.Kind)+" names no known invoice; a later invoice.paid applies it",
			"event_id", ev.EventID, "org_id", org.String(), "charge", p.charge)
		return nil
	}
	return reduceSale(ctx, tx, org, fx.recorder(ev), p.invoice, r)
}

// reduceSale records r against the sale of externalID; a reduction that
// cannot be of that sale (another currency) can never apply.
func reduceSale(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec ledger.Recorder, externalID string, r ledger.Reduction) error {
	r.Metadata = maps.Clone(r.Metadata)
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	r.Metadata["sale"] = externalID
	_, err := ledger.ReduceSale(ctx, tx, org, rec, externalID, r)
	if isLedgerRefusal(err) {
		return unusable("the %s %s cannot reduce sale %s: %w", r.Kind, r.Source, externalID, err)
	}
	return err
}

// containing is the containment document {"type": eventType, "data":
// {"object": object}}.
func containing(eventType string, object map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"type": eventType, "data": map[string]any{"object": object}})
	if err != nil {
		panic(fmt.Sprintf("encoding a containment document: %v", err)) // maps of strings always encode
	}
	return b
}

// storedStripeEventsSQL selects, oldest first, the organization's stored
// Stripe events whose payload contains any of the documents from $2 on;
// the caller appends the documents' OR list and the closing parenthesis.
const storedStripeEventsSQL = `SELECT type, payload::text FROM billing_events
	WHERE org_id = $1 AND provider = 'stripe' AND (`

// storedStripeEvents returns the type and payload of each stored Stripe
// event of org containing one of docs, oldest first.
func storedStripeEvents(ctx context.Context, tx pgx.Tx, org uuid.UUID, docs [][]byte) ([][2]string, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	conds := make([]string, len(docs))
	args := []any{org}
	for i, d := range docs {
		conds[i] = fmt.Sprintf("payload @> $%d::jsonb", i+2)
		args = append(args, string(d))
	}
	rows, err := tx.Query(ctx, storedStripeEventsSQL+strings.Join(conds, " OR ")+`) ORDER BY received_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("finding stored Stripe events: %w", db.MapError(err))
	}
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([2]string, error) {
		var r [2]string
		return r, row.Scan(&r[0], &r[1])
	})
	return found, db.Wrap("reading stored Stripe events", db.MapError(err))
}

// invoiceOfPayment finds the invoice p paid among the stored events, or "".
func invoiceOfPayment(ctx context.Context, tx pgx.Tx, org uuid.UUID, p stripePayment) (string, error) {
	var docs [][]byte
	for key, id := range map[string]string{"charge": p.charge, "payment_intent": p.intent} {
		if id != "" {
			docs = append(docs, containing("invoice_payment.paid", map[string]any{"payment": map[string]any{key: id}}),
				containing("invoice.paid", map[string]any{key: id}))
		}
	}
	found, err := storedStripeEvents(ctx, tx, org, docs)
	if err != nil {
		return "", err
	}
	for _, f := range found {
		var obj struct {
			Data struct {
				Object struct {
					ID      string          `json:"id"`
					Invoice *stripe.Invoice `json:"invoice"`
				} `json:"object"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(f[1]), &obj) != nil {
			continue
		}
		if o := obj.Data.Object; f[0] == "invoice.paid" && o.ID != "" {
			return o.ID, nil
		} else if o.Invoice != nil && o.Invoice.ID != "" {
			return o.Invoice.ID, nil
		}
	}
	return "", nil
}

// applyStoredReversals records the refunds and disputes stored before the
// sale of invoice was recorded or credited.
func (fx *Effects) applyStoredReversals(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, invoice string) error {
	payments, err := paymentsOfInvoice(ctx, tx, org, invoice)
	if err != nil {
		return err
	}
	docs := [][]byte{containing("charge.refunded", map[string]any{"invoice": invoice})}
	for _, p := range payments {
		for key, id := range map[string]string{"charge": p.charge, "payment_intent": p.intent} {
			if id == "" {
				continue
			}
			refundKey := key
			if key == "charge" {
				refundKey = "id" // a charge.refunded event's object is the charge
			}
			docs = append(docs, containing("charge.refunded", map[string]any{refundKey: id}))
			for _, t := range stripeDisputeTypes {
				docs = append(docs, containing(t, map[string]any{key: id}))
			}
		}
	}
	found, err := storedStripeEvents(ctx, tx, org, docs)
	if err != nil {
		return err
	}
	for _, f := range found {
		var r ledger.Reduction
		var err error
		if f[0] == "charge.refunded" {
			_, r, err = stripeRefundOf([]byte(f[1]))
		} else {
			_, r, err = stripeDisputeOf(f[0], []byte(f[1]))
		}
		var u unusableEvent
		if errors.As(err, &u) || errors.Is(err, errInquiry) {
			continue // it was logged when it arrived, or takes nothing
		}
		if err == nil {
			err = reduceSale(ctx, tx, org, fx.recorder(ev), invoice, r)
		}
		if err != nil && !errors.As(err, &u) {
			return err
		}
	}
	return nil
}

// paymentsOfInvoice lists the charges and payment intents the stored
// invoice_payment.paid and invoice.paid events say paid invoice.
func paymentsOfInvoice(ctx context.Context, tx pgx.Tx, org uuid.UUID, invoice string) ([]stripePayment, error) {
	found, err := storedStripeEvents(ctx, tx, org, [][]byte{
		containing("invoice_payment.paid", map[string]any{"invoice": invoice}),
		containing("invoice.paid", map[string]any{"id": invoice}),
	})
	if err != nil {
		return nil, err
	}
	var payments []stripePayment
	for _, f := range found {
		var obj struct {
			Data struct {
				Object struct {
					Charge        *stripe.Charge        `json:"charge"`
					PaymentIntent *stripe.PaymentIntent `json:"payment_intent"`
					Payment       *struct {
						Charge        *stripe.Charge        `json:"charge"`
						PaymentIntent *stripe.PaymentIntent `json:"payment_intent"`
					} `json:"payment"`
				} `json:"object"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(f[1]), &obj) != nil {
			continue
		}
		o := obj.Data.Object
		charge, intent := o.Charge, o.PaymentIntent
		if o.Payment != nil {
			charge, intent = o.Payment.Charge, o.Payment.PaymentIntent
		}
		payments = append(payments, stripePayment{invoice: invoice,
			charge: idOf(charge, func(c *stripe.Charge) string { return c.ID }),
			intent: idOf(intent, func(pi *stripe.PaymentIntent) string { return pi.ID })})
	}
	return payments, nil
}
