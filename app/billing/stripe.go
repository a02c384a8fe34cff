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
// its invoice.paid still reverse the commission (see stripe_clawback.go).

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

// stripeCustomer is a Stripe customer as an event shows it.
type stripeCustomer struct {
	id       string
	email    *string
	referral string
	at       time.Time
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
	c := stripeCustomer{id: cs.Customer.ID, email: optionalEmail(cs.CustomerEmail), referral: cs.ClientReferenceID, at: eventTime(e)}
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
	c := stripeCustomer{id: sc.ID, email: optionalEmail(sc.Email), at: eventTime(e)}
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

// syncStripeCustomer upserts c, attributes it if it is not yet and its
// referral names one, credits its earlier sales when it is attributed now,
// and audits what changed.
func (fx *Effects) syncStripeCustomer(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, c stripeCustomer) error {
	if err := validStripeID("customer", c.id); err != nil {
		return err
	}
	if err := lockPaymentEffects(ctx, tx, org); err != nil {
		return err
	}
	t := ledger.Tracking{Kind: ledger.Lead, CustomerExternalID: c.id, Email: c.email, OccurredAt: c.at}
	t.VisitorID, t.ReferralCode = referralOf(c.referral)
	before, changed, err := ledger.UpsertCustomer(ctx, tx, org, t)
	if err != nil {
		return err
	}
	cust, err := ledger.Attribute(ctx, tx, org, before, t)
	if err != nil {
		return err
	}
	meta := map[string]any{"stripe_customer": c.id, "affiliate_id": cust.AffiliateID, "link_id": cust.LinkID,
		"click_id": cust.ClickID, "self_referral": cust.SelfReferral}
	action := "customer.synced"
	switch {
	case before.AffiliateID == nil && cust.AffiliateID != nil:
		action = "customer.attributed"
		if meta["credited_sales"], err = fx.creditEarlierSales(ctx, tx, org, ev, cust, c.at.Add(-lateSaleWindow)); err != nil {
			return err
		}
	case !changed && cust.SelfReferral == before.SelfReferral:
		return nil
	}
	err = fx.recorder(ev).Record(ctx, tx, org, action, "customer", cust.ID.String(), meta, nil)
	return err
}

// creditEarlierSales credits cust's unattributed sales paid since since to
// the referral cust was just attributed to, and reverses those whose refund
// or dispute was stored before. It returns what each sale earned, for the
// audit entry.
func (fx *Effects) creditEarlierSales(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event, cust ledger.Customer,
	since time.Time) ([]map[string]any, error) {
	credited, err := ledger.CreditEarlierSales(ctx, tx, org, cust, since)
	if err != nil {
		return nil, err
	}
	audits := make([]map[string]any, 0, len(credited))
	for _, c := range credited {
		if c.Commission != nil && c.Sale.ExternalID != nil {
			if err := fx.applyStoredReversals(ctx, tx, org, ev, *c.Sale.ExternalID); err != nil {
				return nil, err
			}
		}
		audits = append(audits, c.Audit)
	}
	return audits, nil
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
	_, created, err := ledger.Track(ctx, tx, org, fx.recorder(ev), t)
	if err != nil || !created {
		return err
	}
	return fx.applyStoredReversals(ctx, tx, org, ev, inv.ID)
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
