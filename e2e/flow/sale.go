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

package flow

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Sale is what Stripe's events made, by id.
type Sale struct {
	CustomerID, ConversionID, CommissionID string
}

// The Stripe objects of the referred customer's purchase.
const (
	stripeCustomer = "cus_e2e_initech"
	stripeInvoice  = "in_e2e_initech"
	stripeCharge   = "ch_e2e_initech"
	stripeIntent   = "pi_e2e_initech"
	checkoutEvent  = "evt_e2e_checkout"
	invoiceEvent   = "evt_e2e_invoice_paid"
	refundEvent    = "evt_e2e_charge_refunded"
	invoiceAmount  = 4900 // 49.00 EUR
)

// replaySeries counts the Stripe deliveries the app found replayed.
const replaySeries = `rekomi_webhook_deliveries_total{provider="stripe",outcome="replay"}`

type commission struct {
	ID             string  `json:"id"`
	ConversionID   string  `json:"conversion_id"`
	AffiliateID    string  `json:"affiliate_id"`
	CampaignID     string  `json:"campaign_id"`
	Amount         int64   `json:"amount"`
	Currency       string  `json:"currency"`
	Status         string  `json:"status"`
	ReversedReason *string `json:"reversed_reason"`
}

type customer struct {
	ID          string  `json:"id"`
	ExternalID  *string `json:"external_id"`
	AffiliateID *string `json:"affiliate_id"`
	LinkID      *string `json:"link_id"`
}

type conversion struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	ExternalID  *string `json:"external_id"`
	CustomerID  string  `json:"customer_id"`
	Amount      int64   `json:"amount"`
	AffiliateID *string `json:"affiliate_id"`
}

// PayAndRefund delivers, signed with the endpoint's secret, the checkout
// of the visitor, its paid invoice, the same invoice.paid again, and the
// refund of its charge, checking through the API after each.
func PayAndRefund(t testing.TB, org Tenant, ref Referral, visitor string) Sale {
	t.Helper()
	// Stripe's times are whole seconds: the checkout may well be stamped
	// with the second of the click.
	now := time.Now().Unix()
	customerID := checkout(t, org, ref, visitor, now)
	paid := StripeEvent(invoiceEvent, "invoice.paid", now+1, map[string]any{
		"id": stripeInvoice, "object": "invoice", "customer": stripeCustomer, "amount_paid": invoiceAmount, "currency": "eur",
		"status": "paid", "paid": true, "charge": stripeCharge, "payment_intent": stripeIntent,
		"status_transitions": map[string]any{"paid_at": now + 1},
	})
	s := pay(t, org, ref, customerID, paid)

	// Stripe delivers the same event again: a 200 that changes nothing.
	before := snapshot(t, org.API)
	replays := org.App.Metric(t, replaySeries)
	org.Stripe.Deliver(t, paid)
	require.Equal(t, before, snapshot(t, org.API), "a replayed delivery changes nothing")
	require.Equal(t, replays+1, org.App.Metric(t, replaySeries), "the app counts the replay")

	refund(t, org, s, now+2)
	return s
}

// checkout delivers the visitor's checkout.session.completed, stamped
// now, and expects one customer, attributed to the click's affiliate and
// link, whose id it returns.
func checkout(t testing.TB, org Tenant, ref Referral, visitor string, now int64) string {
	t.Helper()
	org.Stripe.Deliver(t, StripeEvent(checkoutEvent, "checkout.session.completed", now, map[string]any{
		"id": "cs_e2e_initech", "object": "checkout.session", "client_reference_id": visitor,
		"customer": stripeCustomer, "customer_details": map[string]any{"email": "buyer@" + org.Name + ".example"},
		"amount_total": invoiceAmount, "currency": "eur", "mode": "subscription", "payment_status": "paid", "status": "complete",
	}))
	customers := List[customer](t, org.API, "/v1/customers")
	require.Len(t, customers, 1)
	c := customers[0]
	require.Equal(t, stripeCustomer, deref(c.ExternalID))
	require.Equal(t, ref.AffiliateID, deref(c.AffiliateID), "the customer is attributed to the click's affiliate")
	require.Equal(t, ref.LinkID, deref(c.LinkID))
	return c.ID
}

// pay delivers the invoice.paid event paid and expects one pending
// commission of 20% and one sale conversion of the customer.
func pay(t testing.TB, org Tenant, ref Referral, customerID string, paid []byte) Sale {
	t.Helper()
	org.Stripe.Deliver(t, paid)
	earned := List[commission](t, org.API, "/v1/commissions")
	require.Len(t, earned, 1, "the paid invoice earns one commission")
	s := Sale{CustomerID: customerID, ConversionID: earned[0].ConversionID, CommissionID: earned[0].ID}
	require.Equal(t, int64(980), earned[0].Amount, "20%% of 49.00 EUR")
	require.Equal(t, "EUR", earned[0].Currency)
	require.Equal(t, ref.AffiliateID, earned[0].AffiliateID)
	require.Equal(t, ref.CampaignID, earned[0].CampaignID)
	require.Equal(t, "pending", earned[0].Status, "held for 30 days")
	conversions := List[conversion](t, org.API, "/v1/conversions")
	require.Len(t, conversions, 1)
	require.Equal(t, s.ConversionID, conversions[0].ID)
	require.Equal(t, "sale", conversions[0].Kind)
	require.Equal(t, stripeInvoice, deref(conversions[0].ExternalID))
	require.Equal(t, int64(invoiceAmount), conversions[0].Amount)
	require.Equal(t, customerID, conversions[0].CustomerID)
	return s
}

// refund delivers the refund of the charge, stamped created, and expects
// the sale's commission reversed rather than another one.
func refund(t testing.TB, org Tenant, s Sale, created int64) {
	t.Helper()
	org.Stripe.Deliver(t, StripeEvent(refundEvent, "charge.refunded", created, map[string]any{
		"id": stripeCharge, "object": "charge", "amount": invoiceAmount, "amount_captured": invoiceAmount,
		"amount_refunded": invoiceAmount, "captured": true, "currency": "eur", "customer": stripeCustomer,
		"invoice": stripeInvoice, "paid": true, "payment_intent": stripeIntent, "refunded": true, "status": "succeeded",
	}))
	reversed := List[commission](t, org.API, "/v1/commissions")
	require.Len(t, reversed, 1, "the refund reverses the commission rather than adding one")
	require.Equal(t, s.CommissionID, reversed[0].ID)
	require.Equal(t, "reversed", reversed[0].Status)
	require.Equal(t, "refunded", deref(reversed[0].ReversedReason))
	var one commission
	org.API.Do(t, http.MethodGet, "/v1/commissions/"+s.CommissionID, "", http.StatusOK, &one)
	require.Equal(t, reversed[0], one)
}

// snapshot is what a delivery could change, as the API shows it.
func snapshot(t testing.TB, api Merchant) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, path := range []string{"/v1/customers", "/v1/conversions", "/v1/commissions", "/v1/audit-log"} {
		status, body := api.Call(t, http.MethodGet, path+"?limit=100", "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		out[path] = string(body)
	}
	return out
}

// deref is *s, or "" when s is nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
