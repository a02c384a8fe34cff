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
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Refunds and disputes. A refund (charge.refunded, whether it returns all
// of the charge or part of it) or a dispute (charge.dispute.created)
// reverses the whole commission of the sale the charge paid, with the
// reason "refunded" or "disputed": a commission is earned on revenue the
// merchant keeps, and splitting it pro rata is left to a manual
// correction. A pending or approved commission is reversed. One that is
// paid, or held by a payout, cannot be: a negative commission_adjustments
// row claws it back, at most once per commission whatever the reason. A
// dispute later won does not restore the commission.
//
// Finding the sale: a charge rendered by an API version before 2025-03-31
// names its invoice (charge.invoice). Otherwise the invoice is found among
// the organization's stored events: an invoice_payment.paid naming the
// charge or its payment intent (current API versions: the endpoint should
// subscribe to it), or an invoice.paid naming them (older versions). A
// dispute names only its charge and payment intent.
//
// Order: a refund or dispute that finds no sale changes nothing, but it
// stays stored; when the sale is later recorded (invoice.paid) or credited
// (a late attribution), applyStoredReversals finds the refunds and
// disputes stored before and applies them. The per-organization lock
// (lockStripeEffects) makes the later of the two events see the earlier.

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

func (fx *Effects) stripeChargeRefunded(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var ch stripe.Charge
	e, err := parseStripe(ev.Payload, &ch)
	if err != nil {
		return err
	}
	if err := validStripeID("charge", ch.ID); err != nil {
		return err
	}
	// stripe-go follows the current API version, whose charges no longer
	// name their invoice; older versions' do.
	var legacy struct {
		Invoice *stripe.Invoice `json:"invoice"`
	}
	if err := json.Unmarshal(e.Data.Raw, &legacy); err != nil {
		return unusable("charge %s has an unreadable invoice: %w", ch.ID, err)
	}
	p := stripePayment{charge: ch.ID, intent: idOf(ch.PaymentIntent, func(pi *stripe.PaymentIntent) string { return pi.ID }),
		invoice: idOf(legacy.Invoice, func(in *stripe.Invoice) string { return in.ID })}
	return fx.reversePayment(ctx, tx, org, ev, p, "refunded")
}

func (fx *Effects) stripeDisputeCreated(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var d stripe.Dispute
	if _, err := parseStripe(ev.Payload, &d); err != nil {
		return err
	}
	p := stripePayment{charge: idOf(d.Charge, func(c *stripe.Charge) string { return c.ID }),
		intent: idOf(d.PaymentIntent, func(pi *stripe.PaymentIntent) string { return pi.ID })}
	if err := validStripeID("disputed charge", p.charge); err != nil {
		return err
	}
	return fx.reversePayment(ctx, tx, org, ev, p, "disputed")
}

// reversePayment reverses the commissions of the sale p paid, if that sale
// is known yet.
func (fx *Effects) reversePayment(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, p stripePayment, reason string) error {
	if err := lockStripeEffects(ctx, tx, org); err != nil {
		return err
	}
	if p.invoice == "" {
		var err error
		if p.invoice, err = invoiceOfPayment(ctx, tx, org, p); err != nil {
			return err
		}
	}
	if p.invoice == "" {
		fx.log.Info("A Stripe charge was "+reason+" with no known invoice; a later invoice.paid applies it",
			"event_id", ev.EventID, "org_id", org.String(), "charge", p.charge)
		return nil
	}
	return reverseSale(ctx, tx, org, fx.recorder(ev), p.invoice, reason)
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

// applyStoredReversals applies the refunds and disputes stored before the
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
			docs = append(docs, containing("charge.refunded", map[string]any{refundKey: id}),
				containing("charge.dispute.created", map[string]any{key: id}))
		}
	}
	found, err := storedStripeEvents(ctx, tx, org, docs)
	if err != nil {
		return err
	}
	reasons := map[string]string{"charge.refunded": "refunded", "charge.dispute.created": "disputed"}
	for _, f := range found {
		if reason, ok := reasons[f[0]]; ok {
			if err := reverseSale(ctx, tx, org, fx.recorder(ev), invoice, reason); err != nil {
				return err
			}
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

// reverseSale reverses, or claws back, each commission of the sale
// recorded for invoice.
func reverseSale(ctx context.Context, tx pgx.Tx, org uuid.UUID, aud ledger.Recorder, invoice, reason string) error {
	rows, err := tx.Query(ctx, `SELECT cm.id FROM commissions cm
		JOIN conversions cv ON cv.org_id = cm.org_id AND cv.id = cm.conversion_id
		WHERE cm.org_id = $1 AND cv.kind = 'sale' AND cv.external_id = $2 ORDER BY cm.created_at, cm.id`, org, invoice)
	if err != nil {
		return fmt.Errorf("finding the commissions of invoice %s: %w", invoice, db.MapError(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("reading the commissions of invoice %s: %w", invoice, db.MapError(err))
	}
	for _, id := range ids {
		rv := ledger.Reversal{Reason: reason, ClawBack: true, Metadata: map[string]any{"stripe_invoice": invoice}}
		if _, err := ledger.ReverseCommission(ctx, tx, org, aud, id, rv); err != nil {
			return err
		}
	}
	return nil
}
