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
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Stripe effects. A Stripe customer is a customer whose external id is the
// Stripe customer id; checkout.session.completed (client_reference_id) and
// customer.created/updated (metadata rekomi_ref, or referral) attribute it
// to the referral they carry, through the same attribution as the track
// API: a visitor id (the UUID of the attribution cookie) picks the click
// the campaign's model credits, a link code its link. invoice.paid records
// one sale per invoice (its external id is the invoice id), which earns a
// commission under the campaign's rules exactly as a tracked sale does.
//
// Order: Stripe does not order deliveries, and invoice.paid commonly comes
// before checkout.session.completed. A sale of a customer not yet
// attributed is recorded unattributed; when the customer is attributed,
// its unattributed sales paid at most lateSaleWindow before the
// attribution are credited to the referral then, oldest first, each
// earning what it would have. The key is the conversion's affiliate_id,
// set once under the customer's row lock, so a sale is credited once
// whichever event comes first. Older unattributed sales stay unattributed.
//
// Every payment effect, of any provider, first takes a per-organization
// transaction lock, so an organization's payment events apply one at a time and each sees the
// events committed before it: that is what lets a refund delivered before
// its invoice.paid still reverse the commission (see stripe_refunds.go).

// lateSaleWindow is how long before a customer's attribution its
// unattributed sales may be paid and still be credited to the referral.
const lateSaleWindow = 24 * time.Hour

// stripeEffect is the effect of a Stripe event type, or nil.
func (fx *Effects) stripeEffect(eventType string) effect {
	switch eventType {
	case "checkout.session.completed":
		return fx.stripeCheckoutCompleted
	case "customer.created", "customer.updated":
		return fx.stripeCustomerChanged
	case "invoice.paid":
		return fx.stripeInvoicePaid
	case "invoice_payment.paid":
		return fx.stripeInvoicePaymentPaid
	case "charge.refunded":
		return fx.stripeChargeRefunded
	}
	if slices.Contains(stripeDisputeTypes, eventType) {
		return fx.stripeDisputed
	}
	return nil
}

// parseStripe decodes payload as a Stripe event and its data.object into
// obj. Whatever API version rendered the event, the fields read here are
// the same; unknown fields are ignored.
func parseStripe(payload []byte, obj any) (stripe.Event, error) {
	var e stripe.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, unusable("the payload is not a Stripe event: %w", err)
	}
	if e.Data == nil || len(e.Data.Raw) == 0 {
		return e, unusable("the event has no data.object")
	}
	if err := json.Unmarshal(e.Data.Raw, obj); err != nil {
		return e, unusable("data.object is not the %T the event's type names: %w", obj, err)
	}
	return e, nil
}

// lockPaymentEffects serializes an organization's payment effects, of
// every provider, until tx ends.
func lockPaymentEffects(ctx context.Context, tx pgx.Tx, org uuid.UUID) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('payment_effects'), hashtext($1::text))`, org)
	return db.Wrap("locking the organization's payment effects", db.MapError(err))
}

// eventTime is when e happened, or now if it does not say.
func eventTime(e stripe.Event) time.Time {
	if e.Created > 0 {
		return time.Unix(e.Created, 0).UTC()
	}
	return time.Now().UTC()
}

// validStripeID checks an object id Stripe sent.
func validStripeID(what, id string) error {
	if id == "" || len(id) > 255 || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return unusable("the %s id %q is missing or not an id", what, id)
	}
	return nil
}

// optionalEmail is e when it looks like an email address, else nil: a bad
// email is dropped, not a reason to lose the event.
func optionalEmail(e string) *string {
	if !ledger.ValidContactEmail(e) {
		return nil
	}
	return &e
}

func (fx *Effects) stripeCheckoutCompleted(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var cs stripe.CheckoutSession
	e, err := parseStripe(ev.Payload, &cs)
	if err != nil {
		return err
	}
	if cs.Customer == nil || cs.Customer.ID == "" {
		fx.log.Info("A Stripe checkout session without a customer attributes nothing", "event_id", ev.EventID, "org_id", org.String())
		return nil
	}
	var applied []*stripe.PromotionCode
	for _, d := range cs.Discounts {
		if d != nil {
			applied = append(applied, d.PromotionCode)
		}
	}
	promo, err := stripePromoCodes(ctx, tx, org, applied, cs.Metadata["promo_code"])
	if err != nil {
		return err
	}
	c := customerReferral{id: cs.Customer.ID, email: optionalEmail(cs.CustomerEmail), referral: cs.ClientReferenceID, at: eventTime(e),
		promo: promo}
	if cs.CustomerDetails != nil && optionalEmail(cs.CustomerDetails.Email) != nil {
		c.email = optionalEmail(cs.CustomerDetails.Email)
	}
	return fx.syncStripeCustomer(ctx, tx, org, ev, c)
}

func (fx *Effects) stripeCustomerChanged(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var sc stripe.Customer
	e, err := parseStripe(ev.Payload, &sc)
	if err != nil {
		return err
	}
	c := customerReferral{id: sc.ID, email: optionalEmail(sc.Email), at: eventTime(e)}
	for _, k := range []string{"rekomi_ref", "referral"} { // the metadata keys read, in order
		if v := sc.Metadata[k]; v != "" {
			c.referral = v
			break
		}
	}
	return fx.syncStripeCustomer(ctx, tx, org, ev, c)
}

// referralOf reads a referral given to Stripe: a visitor id (a UUID) or a
// link code. A UUID is also tried as a code, after the visitor's clicks,
// so a link whose code looks like a UUID still works. Anything else names
// no referral.
func referralOf(v string) (visitor *uuid.UUID, code *string) {
	v = strings.TrimSpace(v)
	if id, err := uuid.Parse(v); err == nil && len(v) == 36 {
		visitor = &id
	}
	if ledger.ValidReferralCode(v) {
		code = &v
	}
	return visitor, code
}

// syncStripeCustomer syncs a Stripe customer and what its event says of
// its referral.
func (fx *Effects) syncStripeCustomer(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, c customerReferral) error {
	if err := validStripeID("customer", c.id); err != nil {
		return err
	}
	c.idKey = "stripe_customer"
	return fx.syncCustomer(ctx, tx, org, ev, c, fx.applyStoredReversals)
}

// creditEarlierSales credits cust's unattributed sales paid since since to
// the referral cust was just attributed to, audits each (conversion.credited,
// one entry per sale, so that no number of them outgrows an entry), and
// replays the refunds and disputes stored before against each. It returns
// how many it credited.
func (fx *Effects) creditEarlierSales(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, cust ledger.Customer,
	since time.Time, replay reductionReplayer) (int, error) {
	credited, err := ledger.CreditEarlierSales(ctx, tx, org, cust, since)
	if err != nil {
		return 0, err
	}
	for _, c := range credited {
		meta := maps.Clone(c.Audit)
		meta["customer_id"], meta["affiliate_id"] = cust.ID, cust.AffiliateID
		if err := fx.recorder(ev).Record(ctx, tx, org, "conversion.credited", "conversion", c.Sale.ID.String(), meta, nil); err != nil {
			return 0, err
		}
		if c.Commission != nil && c.Sale.ExternalID != nil {
			if err := replay(ctx, tx, org, ev, *c.Sale.ExternalID); err != nil {
				return 0, err
			}
		}
	}
	return len(credited), nil
}

func (fx *Effects) stripeInvoicePaid(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var inv stripe.Invoice
	e, err := parseStripe(ev.Payload, &inv)
	if err != nil {
		return err
	}
	t, err := invoiceSale(inv, e)
	if err != nil || t.Amount == 0 { // an invoice that took no payment is no sale
		return err
	}
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	var applied []*stripe.PromotionCode
	for _, d := range inv.Discounts {
		if d != nil {
			applied = append(applied, d.PromotionCode)
		}
	}
	if t.PromoCodes, err = stripePromoCodes(ctx, tx, org, applied); err != nil {
		return err
	}
	_, created, err := ledger.Track(ctx, tx, org, fx.recorder(ev), t)
	if err != nil || !created {
		return err
	}
	return fx.applyStoredReversals(ctx, tx, org, ev, inv.ID)
}

// stripeInvoicePaymentPaid applies the refunds and disputes of an
// invoice's payment stored before it: on API versions from 2025-03-31 a
// charge names no invoice, and only this event links the two, so a refund
// delivered before it found no sale.
func (fx *Effects) stripeInvoicePaymentPaid(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	var ip stripe.InvoicePayment
	if _, err := parseStripe(ev.Payload, &ip); err != nil {
		return err
	}
	if ip.Invoice == nil {
		return unusable("invoice payment %s names no invoice", ip.ID)
	}
	if err := validStripeID("invoice", ip.Invoice.ID); err != nil {
		return err
	}
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	return fx.applyStoredReversals(ctx, tx, org, ev, ip.Invoice.ID)
}

// invoiceSale is the sale a paid invoice records: its amount paid, in its
// currency, when it was paid, by its customer.
func invoiceSale(inv stripe.Invoice, e stripe.Event) (ledger.Tracking, error) {
	if err := validStripeID("invoice", inv.ID); err != nil {
		return ledger.Tracking{}, err
	}
	if inv.Customer == nil {
		return ledger.Tracking{}, unusable("invoice %s has no customer", inv.ID)
	}
	if err := validStripeID("customer", inv.Customer.ID); err != nil {
		return ledger.Tracking{}, err
	}
	currency := strings.ToUpper(string(inv.Currency))
	switch {
	case inv.AmountPaid < 0:
		return ledger.Tracking{}, unusable("invoice %s has a negative amount paid", inv.ID)
	case inv.AmountPaid > 0 && !ledger.ValidCurrency(currency):
		return ledger.Tracking{}, unusable("invoice %s is in an unknown currency %q", inv.ID, inv.Currency)
	}
	t := ledger.Tracking{Kind: ledger.Sale, CustomerExternalID: inv.Customer.ID, Email: optionalEmail(inv.CustomerEmail),
		ExternalID: &inv.ID, OccurredAt: eventTime(e), Amount: inv.AmountPaid, Currency: &currency}
	if inv.StatusTransitions != nil && inv.StatusTransitions.PaidAt > 0 {
		t.OccurredAt = time.Unix(inv.StatusTransitions.PaidAt, 0).UTC()
	}
	return t, nil
}

// stripePromoCodes are the codes of the promotion codes a session or an
// invoice applied, after any given first: each read from the event when
// Stripe expands it, or else from the promotion_code.created or .updated
// event stored for its id (the endpoint subscribes to those for the codes
// to be known).
func stripePromoCodes(ctx context.Context, tx pgx.Tx, org uuid.UUID, applied []*stripe.PromotionCode, first ...string) ([]string, error) {
	var codes []string
	for _, v := range first {
		if v = optionalText(v); v != "" {
			codes = append(codes, v)
		}
	}
	for _, pc := range applied {
		if pc == nil {
			continue
		}
		code := optionalText(pc.Code)
		if code == "" {
			var err error
			if code, err = storedStripePromotionCode(ctx, tx, org, pc.ID); err != nil {
				return nil, err
			}
		}
		if code != "" {
			codes = append(codes, code)
		}
	}
	return codes, nil
}

// storedStripePromotionCode is the code of Stripe promotion code id as its
// latest stored event says, or "".
func storedStripePromotionCode(ctx context.Context, tx pgx.Tx, org uuid.UUID, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	doc, err := json.Marshal(map[string]any{"data": map[string]any{"object": map[string]any{"id": id}}})
	if err != nil {
		return "", fmt.Errorf("encoding a containment document: %w", err)
	}
	found, err := storedEventsOf(ctx, tx, org, "stripe", []string{"promotion_code.created", "promotion_code.updated"}, doc)
	if err != nil {
		return "", err
	}
	code := ""
	for _, payload := range found {
		var pc stripe.PromotionCode
		if _, err := parseStripe(payload, &pc); err == nil && pc.ID == id {
			code = optionalText(pc.Code)
		}
	}
	return code, nil
}
