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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

// Tests of the effects of provider events: each delivery does what the
// webhook handler does (store the event in billing_events, then call
// applyEvent if it is new) in one tenant transaction, with payloads from
// the fixtures under testdata/.

// syncBuffer collects log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// effectsBundle is the effects on a migrated Region, as the runtime role.
type effectsBundle struct {
	fx     *Effects
	region *ledgertest.Region
	logs   *syncBuffer
}

func setupEffects(t *testing.T) *effectsBundle {
	t.Helper()
	logs := &syncBuffer{}
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	fx := New(audit.NewSealer(ring, 0), slog.New(slog.NewJSONHandler(logs, nil)))
	return &effectsBundle{fx: fx, region: ledgertest.NewRegion(t, dbtest.Start(t)), logs: logs}
}

// tenant is an organization with an endpoint of each provider.
type tenant struct {
	ledgertest.Org
	b             *effectsBundle
	stripe, clerk uuid.UUID
	endpoints     map[string]uuid.UUID
}

// tenant seeds an organization, its owner and its endpoints as the
// operator does.
func (b *effectsBundle) tenant(t *testing.T) tenant {
	t.Helper()
	tn := tenant{Org: b.region.Org(t, ""), b: b, endpoints: map[string]uuid.UUID{}}
	tn.Owner(t, "user_owner", "owner@team.example")
	for _, provider := range []string{"stripe", "clerk", "paddle", "shopify", "braintree"} {
		tn.endpoints[provider] = uuid.New()
		b.region.AsOwner(t, `INSERT INTO webhook_endpoints (org_id, id, name, provider, secrets) VALUES ($1, $2, $3, $3, '\x00')`,
			tn.ID, tn.endpoints[provider], provider)
	}
	tn.stripe, tn.clerk = tn.endpoints["stripe"], tn.endpoints["clerk"]
	return tn
}

// audits counts the tenant's audit entries of action by the provider.
func (tn tenant) audits(t *testing.T, action string) int {
	t.Helper()
	return tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = $1 AND actor_type = 'provider'`, action)
}

// set is a fixture's changes, keyed by dotted JSON path.
type set map[string]any

// fixture reads testdata/name.json and applies changes.
func fixture(t *testing.T, name string, changes set) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	for path, v := range changes {
		keys := strings.Split(path, ".")
		m := doc
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		m[keys[len(keys)-1]] = v
	}
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

// deliver stores a provider event as the handler does and applies it if
// it is new, returning applyEvent's error.
func (tn tenant) deliver(t *testing.T, provider, name, eventID string, changes set) error {
	t.Helper()
	switch provider {
	case "stripe":
		changes = set(merge(changes, set{"id": eventID}))
	case "paddle":
		changes = set(merge(changes, set{"event_id": eventID}))
	}
	return tn.deliverRaw(t, provider, eventID, fixture(t, provider+"/"+name, changes))
}

func merge(a, b set) set {
	out := set{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (tn tenant) deliverRaw(t *testing.T, provider, eventID string, payload []byte) error {
	t.Helper()
	var head struct {
		Type      string `json:"type"`
		EventType string `json:"event_type"` // Paddle's
	}
	_ = json.Unmarshal(payload, &head)
	if head.Type == "" {
		head.Type = head.EventType
	}
	if head.Type == "" {
		head.Type = "unknown"
	}
	return tn.deliverTyped(t, provider, eventID, head.Type, payload)
}

// deliverTyped is deliverRaw for an event whose type is given apart from
// its payload, as Shopify's topic and Braintree's kind are.
func (tn tenant) deliverTyped(t *testing.T, provider, eventID, eventType string, payload []byte) error {
	t.Helper()
	head := struct{ Type string }{eventType}
	endpoint := tn.endpoints[provider]
	ctx := context.Background()
	var applyErr error
	err := tn.b.region.DB.TenantTx(ctx, tn.ID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO billing_events (org_id, endpoint_id, provider, event_id, type, payload)
			VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (org_id, provider, event_id) DO NOTHING`,
			tn.ID, endpoint, provider, eventID, head.Type, string(payload))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		applyErr = tn.b.fx.Apply(ctx, tx, tn.ID, Event{Provider: provider, EndpointID: endpoint, EventID: eventID,
			Type: head.Type, Payload: payload})
		return applyErr
	})
	if applyErr != nil {
		return applyErr
	}
	require.NoError(t, err)
	return nil
}

// mustDeliver delivers an event that must apply without error.
func (tn tenant) mustDeliver(t *testing.T, provider, name, eventID string, changes set) {
	t.Helper()
	require.NoError(t, tn.deliver(t, provider, name, eventID, changes))
}

// customerRow is a Stripe customer as stored.
type customerRow struct {
	affiliate, link *uuid.UUID
	click           *int64
	email           *string
}

func (tn tenant) customer(t *testing.T, stripeID string) customerRow {
	t.Helper()
	var c customerRow
	tn.Exec(t, []any{&c.affiliate, &c.link, &c.click, &c.email}, `SELECT affiliate_id, link_id, click_id, email FROM customers
		WHERE org_id = $1 AND external_id = $2`, tn.ID, stripeID)
	return c
}

// commissionRow is a commission of an invoice's sale.
type commissionRow struct {
	amount   int64
	currency string
	status   string
	reason   *string
}

// commissions lists the commissions of invoice's sale, oldest first.
func (tn tenant) commissions(t *testing.T, invoice string) []commissionRow {
	t.Helper()
	var out []commissionRow
	ctx := context.Background()
	require.NoError(t, tn.b.region.DB.TenantTx(ctx, tn.ID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT cm.amount, cm.currency, cm.status, cm.reversed_reason FROM commissions cm
			JOIN conversions cv ON cv.org_id = cm.org_id AND cv.id = cm.conversion_id
			WHERE cm.org_id = $1 AND cv.external_id = $2 ORDER BY cm.created_at`, tn.ID, invoice)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (commissionRow, error) {
			var c commissionRow
			return c, r.Scan(&c.amount, &c.currency, &c.status, &c.reason)
		})
		return err
	}))
	return out
}

// invoice is the changes making invoice.paid a payment of id at paidAt.
func invoice(id string, amount int64, currency string, paidAt time.Time) set {
	return set{"data.object.id": id, "data.object.amount_paid": amount, "data.object.currency": currency,
		"data.object.status_transitions.paid_at": paidAt.Unix(), "created": paidAt.Unix() + 10,
		"data.object.charge": "ch_" + id, "data.object.payment_intent": "pi_" + id}
}

// refund is the changes making charge.refunded (an older API version's,
// naming its invoice) a refund of invoice's charge.
func refund(invoice string) set {
	return set{"data.object.id": "ch_" + invoice, "data.object.invoice": invoice, "data.object.payment_intent": "pi_" + invoice}
}

// refundSoFar is refund with amount refunded of the charge so far.
func refundSoFar(invoice string, amount int64) set {
	return merge(refund(invoice), set{"data.object.amount_refunded": amount})
}

const customerID = "cus_QxAmple000001"

// paidAt is the fixtures' payment time.
var paidAt = time.Unix(1767268790, 0).UTC()

func TestStripeAttribution(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)

	t.Run("CheckoutSessionWithALinkCode", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r := tn.Partner(t, "")
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_1", set{"data.object.client_reference_id": r.Code})
		c := tn.customer(t, customerID)
		require.Equal(t, &r.Affiliate, c.affiliate)
		require.Equal(t, &r.Link, c.link)
		require.Nil(t, c.click)
		require.Equal(t, "buyer@shop-customer.example", *c.email, "customer_details.email")
		require.Equal(t, 1, tn.audits(t, "customer.attributed"))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'customer.attributed' AND actor_id = 'stripe'
			AND metadata->>'event_id' = 'evt_1' AND metadata->>'affiliate_id' = $1`, r.Affiliate.String()))
	})

	t.Run("CheckoutSessionWithAVisitorID", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		first, last := tn.Partner(t, ""), tn.Partner(t, "")
		visitor := uuid.New()
		tn.Click(t, first.Link, visitor, paidAt.Add(-48*time.Hour), false)
		click := tn.Click(t, last.Link, visitor, paidAt.Add(-time.Hour), false)
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_1", set{"data.object.client_reference_id": visitor.String()})
		c := tn.customer(t, customerID)
		require.Equal(t, &last.Affiliate, c.affiliate, "the last click's campaign credits its last click")
		require.Equal(t, &click, c.click)
	})

	t.Run("CustomerMetadataAndFirstAttributionWins", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r, other := tn.Partner(t, ""), tn.Partner(t, "")
		tn.mustDeliver(t, "stripe", "customer.created", "evt_1", set{"data.object.metadata": map[string]any{"rekomi_ref": r.Code}})
		require.Equal(t, &r.Affiliate, tn.customer(t, customerID).affiliate)
		tn.mustDeliver(t, "stripe", "customer.created", "evt_2", set{"type": "customer.updated",
			"data.object.metadata": map[string]any{"referral": other.Code}, "data.object.email": "new@shop-customer.example"})
		c := tn.customer(t, customerID)
		require.Equal(t, &r.Affiliate, c.affiliate, "an attributed customer keeps its referral")
		require.Equal(t, "new@shop-customer.example", *c.email)
		require.Equal(t, 1, tn.audits(t, "customer.attributed"))
		require.Equal(t, 1, tn.audits(t, "customer.synced"), "the email change")
		tn.mustDeliver(t, "stripe", "customer.created", "evt_3", set{"type": "customer.updated", "data.object.email": "new@shop-customer.example"})
		require.Equal(t, 1, tn.audits(t, "customer.synced"), "nothing changed, nothing audited")
	})

	t.Run("APromotionCodeAttributesWhenNoReferralDoes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r := tn.Partner(t, "")
		tn.PromoCode(t, r.Affiliate, r.Campaign, "SPRING")
		require.NoError(t, tn.deliverRaw(t, "stripe", "evt_promo", []byte(`{"id":"evt_promo","object":"event","type":"promotion_code.created",
			"data":{"object":{"id":"promo_1QxAmple","object":"promotion_code","code":"spring","active":true}}}`)))
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_1", set{"data.object.client_reference_id": nil,
			"data.object.discounts": []any{map[string]any{"coupon": "co_1", "promotion_code": "promo_1QxAmple"}}})
		require.Equal(t, &r.Affiliate, tn.customer(t, customerID).affiliate, "the stored promotion code's code names the affiliate")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'customer.attributed'
			AND metadata->>'attributed_by' = 'promo_code'`))

		other := b.tenant(t)
		other.mustDeliver(t, "stripe", "checkout.session.completed", "evt_1", set{"data.object.client_reference_id": nil,
			"data.object.metadata": map[string]any{"promo_code": "SPRING"}})
		require.Nil(t, other.customer(t, customerID).affiliate, "another organization's code attributes nothing")
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_2", set{"data.object.customer": "cus_metadata",
			"data.object.client_reference_id": nil, "data.object.metadata": map[string]any{"promo_code": "Spring"}})
		require.Equal(t, &r.Affiliate, tn.customer(t, "cus_metadata").affiliate, "the session's metadata promo_code")
	})

	t.Run("AReferralNamingNothingLeavesTheCustomerUnattributed", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		for i, ref := range []string{"code-nobody-has", uuid.NewString(), "not a code!", ""} {
			tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_"+string(rune('a'+i)), set{"data.object.client_reference_id": ref})
		}
		require.Nil(t, tn.customer(t, customerID).affiliate)
		require.Equal(t, 1, tn.audits(t, "customer.synced"), "the customer was created once")
	})
}

func TestStripeInvoicePaid(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)
	attributed := func(t *testing.T, campaign string) (tenant, ledgertest.Partner) {
		tn := b.tenant(t)
		r := tn.Partner(t, campaign)
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code,
			"created": paidAt.Add(-time.Minute).Unix()})
		return tn, r
	}

	t.Run("CommissionsFollowTheCampaignsRules", func(t *testing.T) {
		t.Parallel()
		cases := map[string]struct {
			campaign string
			currency string
			want     []commissionRow // per monthly invoice
		}{
			"percentage, one time, in the invoice's currency upper-cased": {"", "usd",
				[]commissionRow{{490, "USD", "pending", nil}}},
			"flat, in the campaign's currency": {"commission_type = 'flat', commission_bps = NULL, commission_amount = 700", "usd",
				[]commissionRow{{700, "EUR", "pending", nil}}},
			"recurring for two months": {"recurrence = 'recurring', recurring_months = 2", "eur",
				[]commissionRow{{490, "EUR", "pending", nil}, {490, "EUR", "pending", nil}}},
			"lifetime": {"recurrence = 'lifetime'", "eur",
				[]commissionRow{{490, "EUR", "pending", nil}, {490, "EUR", "pending", nil}, {490, "EUR", "pending", nil}}},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tn, _ := attributed(t, tc.campaign)
				var got []commissionRow
				for month := range 3 {
					id := "in_month" + string(rune('0'+month))
					tn.mustDeliver(t, "stripe", "invoice.paid", "evt_"+id, invoice(id, 4900, tc.currency, paidAt.AddDate(0, month, 0)))
					got = append(got, tn.commissions(t, id)...)
				}
				require.Equal(t, tc.want, got)
				require.Equal(t, 3, tn.Count(t, `SELECT count(*) FROM conversions WHERE kind = 'sale' AND amount = 4900
					AND currency = upper($1)`, tc.currency), "one sale per paid invoice")
				require.Equal(t, 3, tn.audits(t, "conversion.sale_tracked"))
			})
		}
	})

	t.Run("OneInvoiceInTwoEventsIsOneSale", func(t *testing.T) {
		t.Parallel()
		tn, _ := attributed(t, "recurrence = 'lifetime'")
		for _, evt := range []string{"evt_a", "evt_b", "evt_a"} {
			tn.mustDeliver(t, "stripe", "invoice.paid", evt, invoice("in_once", 4900, "eur", paidAt))
		}
		require.Len(t, tn.commissions(t, "in_once"), 1)
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions WHERE external_id = 'in_once'`))
		require.Equal(t, 1, tn.audits(t, "conversion.sale_tracked"))
	})

	t.Run("AnInvoiceBeforeItsCheckoutIsCreditedOnAttribution", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r := tn.Partner(t, "recurrence = 'lifetime'")
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_old", invoice("in_old", 9900, "eur", paidAt.Add(-lateSaleWindow-time.Hour)))
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_first", invoice("in_first", 4900, "eur", paidAt))
		require.Empty(t, tn.commissions(t, "in_first"), "not attributed yet")
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM conversions WHERE affiliate_id IS NOT NULL`))

		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code,
			"created": paidAt.Add(time.Minute).Unix()})
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, "in_first"))
		require.Empty(t, tn.commissions(t, "in_old"), "a sale paid long before the attribution stays unattributed")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions WHERE external_id = 'in_first' AND affiliate_id = $1
			AND campaign_id = $2`, r.Affiliate, r.Campaign))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'customer.attributed'
			AND metadata->'credited_sales' = '1'`))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log a JOIN conversions cv ON cv.id::text = a.target_id
			WHERE a.action = 'conversion.credited' AND cv.external_id = 'in_first' AND a.metadata ? 'commission_id'`))

		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout_again", set{"data.object.client_reference_id": r.Code})
		tn.mustDeliver(t, "stripe", "customer.created", "evt_customer", set{"data.object.metadata": map[string]any{"rekomi_ref": r.Code}})
		require.Len(t, tn.commissions(t, "in_first"), 1, "a sale is credited once")
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_second", invoice("in_second", 4900, "eur", paidAt.AddDate(0, 1, 0)))
		require.Len(t, tn.commissions(t, "in_second"), 1, "later invoices earn as usual")
	})

	// Each credited sale has an audit entry of its own: the customer's
	// entry stays small however many sales its attribution credits.
	t.Run("ManySalesBeforeTheCheckoutAreAllCredited", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r := tn.Partner(t, "recurrence = 'lifetime'")
		const sales = 80
		for i := range sales {
			id := fmt.Sprintf("in_early_%d", i)
			tn.mustDeliver(t, "stripe", "invoice.paid", "evt_"+id, invoice(id, 4900, "eur", paidAt.Add(time.Duration(i)*time.Second)))
		}
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code,
			"created": paidAt.Add(time.Hour).Unix()})
		require.Equal(t, sales, tn.Count(t, `SELECT count(*) FROM commissions`))
		require.Equal(t, sales, tn.audits(t, "conversion.credited"))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'customer.attributed'
			AND metadata->'credited_sales' = $1::text::jsonb`, fmt.Sprint(sales)))
	})

	t.Run("AnInvoiceThatTookNoPaymentIsNoSale", func(t *testing.T) {
		t.Parallel()
		tn, _ := attributed(t, "")
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_trial", invoice("in_trial", 0, "eur", paidAt))
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM conversions`))
	})
}

func TestStripeRefundsAndDisputes(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)
	sold := func(t *testing.T) tenant {
		tn := b.tenant(t)
		r := tn.Partner(t, "")
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code})
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_paid", invoice("in_1", 4900, "eur", paidAt))
		require.Len(t, tn.commissions(t, "in_1"), 1)
		return tn
	}
	reason := func(s string) *string { return &s }

	t.Run("ARefundReversesAnUnpaidCommission", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refund("in_1"))
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("refunded")}}, tn.commissions(t, "in_1"))
		require.Equal(t, 1, tn.audits(t, "commission.reversed"))
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund_2", refund("in_1"))
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_in_1"})
		require.Equal(t, 1, tn.audits(t, "commission.reversed"), "reversed once")
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM commission_adjustments`))
	})

	t.Run("APartialRefundReducesTheCommissionByItsShare", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refundSoFar("in_1", 100))
		require.Equal(t, []commissionRow{{480, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "490 less 100/4900 of it")
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund_more", refundSoFar("in_1", 2550))
		require.Equal(t, []commissionRow{{235, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "490 less 2550/4900 of it")
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund_late", refundSoFar("in_1", 100))
		require.Equal(t, []commissionRow{{235, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "an older total arriving late changes nothing")
		require.Equal(t, 2, tn.audits(t, "commission.reduced"))
		require.Equal(t, 2, tn.audits(t, "conversion.reduced"))
	})

	t.Run("ARefundOfAPaidCommissionClawsBackItsShare", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now()`)
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refundSoFar("in_1", 1225))
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refundSoFar("in_1", 1225))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM commission_adjustments a JOIN commissions c ON c.id = a.commission_id
			WHERE a.amount = -123 AND a.currency = 'EUR' AND a.reason = 'refunded' AND a.affiliate_id = c.affiliate_id`), "122.5 rounds half up")
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund_rest", refund("in_1"))
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_in_1"})
		require.Equal(t, []commissionRow{{490, "EUR", "paid", nil}}, tn.commissions(t, "in_1"))
		require.Equal(t, -490, tn.Count(t, `SELECT sum(amount)::int FROM commission_adjustments`), "never more than the commission")
		require.Equal(t, 2, tn.audits(t, "commission.clawed_back"))
		require.Equal(t, 0, tn.audits(t, "commission.reversed"))
	})

	t.Run("ADisputeWonRestoresWhatItsOpeningTook", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_in_1"})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, "in_1"))
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute_closed", set{"type": "charge.dispute.closed",
			"data.object.charge": "ch_in_1", "data.object.status": "won"})
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, "in_1"))
		require.Equal(t, 1, tn.audits(t, "commission.restored"))

		lost := sold(t)
		lost.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute_closed", set{"type": "charge.dispute.closed",
			"data.object.charge": "ch_in_1", "data.object.status": "lost"})
		lost.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_in_1"})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, lost.commissions(t, "in_1"), "lost, whatever the order")
	})

	t.Run("AnInquiryTakesNothingUntilItBecomesAChargeback", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		for i, status := range []string{"warning_needs_response", "warning_under_review"} {
			tn.mustDeliver(t, "stripe", "charge.dispute.created", fmt.Sprintf("evt_inquiry_%d", i), set{"data.object.charge": "ch_in_1",
				"data.object.status": status})
			require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), status)
		}
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM sale_reductions`))
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_chargeback", set{"type": "charge.dispute.updated",
			"data.object.charge": "ch_in_1", "data.object.status": "needs_response"})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, "in_1"))
	})

	// A dispute prevented (a refund made instead) or settled by refunding
	// the charge is taken back by that refund alone, not twice.
	for _, status := range []string{"prevented", "charge_refunded"} {
		t.Run("ADisputeSettledByARefundTakesTheRefundOnly/"+status, func(t *testing.T) {
			t.Parallel()
			tn := sold(t)
			tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_in_1",
				"data.object.amount": 980})
			tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refundSoFar("in_1", 980))
			tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute_closed", set{"type": "charge.dispute.closed",
				"data.object.charge": "ch_in_1", "data.object.amount": 980, "data.object.status": status})
			require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "a fifth refunded, once")
		})
	}

	t.Run("ARefundOnACurrentAPIVersionFindsTheInvoiceThroughItsPayment", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "invoice_payment.paid", "evt_payment", set{"data.object.invoice": "in_1",
			"data.object.payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_current"}})
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", set{"api_version": "2025-03-31.basil", "data.object.id": "ch_current",
			"data.object.invoice": nil, "data.object.payment_intent": "pi_current", "data.object.amount_refunded": 980})
		require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "490 less a fifth")
	})

	t.Run("ARefundBeforeTheInvoicePaymentThatNamesItsChargeIsAppliedWhenThatComes", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", set{"api_version": "2025-03-31.basil", "data.object.id": "ch_current",
			"data.object.invoice": nil, "data.object.payment_intent": "pi_current", "data.object.amount_refunded": 980})
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "no stored event links the charge to a sale yet")
		payment := set{"data.object.invoice": "in_1", "data.object.payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_current"}}
		tn.mustDeliver(t, "stripe", "invoice_payment.paid", "evt_payment", payment)
		tn.mustDeliver(t, "stripe", "invoice_payment.paid", "evt_payment_again", payment)
		require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, "in_1"), "490 less a fifth, once")
		require.Equal(t, 1, tn.audits(t, "commission.reduced"))
	})

	t.Run("ADisputeOnACurrentAPIVersionFindsTheInvoiceThroughItsPayment", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "invoice_payment.paid", "evt_payment", set{"data.object.invoice": "in_1",
			"data.object.payment": map[string]any{"type": "payment_intent", "payment_intent": "pi_current"}})
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_current",
			"data.object.payment_intent": "pi_current"})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, "in_1"))
	})

	t.Run("ADisputeOnAnOlderAPIVersionFindsTheInvoiceThatNamesItsCharge", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_in_1"})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, "in_1"))
	})

	t.Run("ARefundWithNoKnownSaleChangesNothing", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", set{"data.object.id": "ch_other", "data.object.invoice": nil,
			"data.object.payment_intent": "pi_other"})
		require.Equal(t, "pending", tn.commissions(t, "in_1")[0].status)
	})

	t.Run("ARefundBeforeItsInvoiceIsAppliedWhenTheInvoiceComes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r := tn.Partner(t, "")
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code})
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refund("in_1"))
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_paid", invoice("in_1", 4900, "eur", paidAt))
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("refunded")}}, tn.commissions(t, "in_1"))
	})

	t.Run("ADisputeBeforeTheInvoiceAndItsAttributionIsAppliedOnCredit", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		r := tn.Partner(t, "")
		tn.mustDeliver(t, "stripe", "charge.dispute.created", "evt_dispute", set{"data.object.charge": "ch_current",
			"data.object.payment_intent": "pi_current"})
		tn.mustDeliver(t, "stripe", "invoice_payment.paid", "evt_payment", set{"data.object.invoice": "in_1",
			"data.object.payment": map[string]any{"type": "charge", "charge": "ch_current"}})
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_paid", invoice("in_1", 4900, "eur", paidAt))
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, "in_1"))
	})
}

func TestUnknownAndMalformedEvents(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)

	t.Run("UnknownTypesHaveNoEffect", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		for i, typ := range []string{"invoice.created", "payment_intent.succeeded", "customer.deleted", "charge.dispute.closed"} {
			tn.mustDeliver(t, "stripe", "invoice.paid", "evt_"+string(rune('a'+i)), merge(invoice("in_1", 4900, "eur", paidAt), set{"type": typ}))
		}
		require.NoError(t, tn.deliverRaw(t, "clerk", "msg_1", []byte(`{"type":"session.created","object":"event","data":{"id":"sess_1"}}`)))
		ctx := context.Background()
		require.NoError(t, tn.b.region.DB.TenantTx(ctx, tn.ID, func(tx pgx.Tx) error {
			return tn.b.fx.Apply(ctx, tx, tn.ID, Event{Provider: "paddle", EndpointID: tn.stripe, EventID: "x_1",
				Type: "user.created", Payload: fixture(t, "clerk/user.created", nil)})
		}), "an unknown provider")
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM customers`))
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM members`), "the owner only")
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM audit_log`))
	})

	t.Run("PayloadsThatCanNeverApplyAreLoggedNotRetried", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		cases := map[string][]byte{
			"no data.object":              []byte(`{"id":"evt_x","type":"invoice.paid","data":{}}`),
			"data.object of a wrong type": []byte(`{"id":"evt_x","type":"invoice.paid","data":{"object":{"id":"in_1","amount_paid":"lots"}}}`),
			"an invoice without customer": fixture(t, "stripe/invoice.paid", set{"data.object.customer": nil}),
			"an unknown currency":         fixture(t, "stripe/invoice.paid", set{"data.object.currency": "xyz"}),
			"a negative amount":           fixture(t, "stripe/invoice.paid", set{"data.object.amount_paid": -1}),
			"a charge without id":         fixture(t, "stripe/charge.refunded", set{"data.object.id": ""}),
			"a dispute without charge":    fixture(t, "stripe/charge.dispute.created", set{"data.object.charge": nil}),
			"a customer without id":       fixture(t, "stripe/customer.created", set{"data.object.id": ""}),
			"a clerk user without email":  fixture(t, "clerk/user.created", set{"data.email_addresses": []any{}}),
			"a clerk user without id":     fixture(t, "clerk/user.created", set{"data.id": ""}),
			"a clerk event without data":  []byte(`{"type":"user.created","object":"event","data":null}`),
		}
		i := 0
		for name, payload := range cases {
			i++
			provider := "stripe"
			if strings.Contains(name, "clerk") {
				provider = "clerk"
			}
			require.NoError(t, tn.deliverRaw(t, provider, "evt_bad_"+string(rune('a'+i)), payload), name)
		}
		ctx := context.Background()
		require.NoError(t, tn.b.region.DB.TenantTx(ctx, tn.ID, func(tx pgx.Tx) error {
			return tn.b.fx.Apply(ctx, tx, tn.ID, Event{Provider: "stripe", EndpointID: tn.stripe, EventID: "evt_json",
				Type: "invoice.paid", Payload: []byte(`{"type":"invoice.paid","data":`)})
		}), "a body that is not JSON")
		ignored := 0
		for _, line := range strings.Split(b.logs.String(), "\n") {
			if strings.Contains(line, "Ignoring a provider event that can never take effect") && strings.Contains(line, tn.ID.String()) {
				ignored++
			}
		}
		require.Equal(t, len(cases)+1, ignored, "each is logged")
		require.Equal(t, len(cases), tn.Count(t, `SELECT count(*) FROM billing_events`), "each stays stored")
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM customers`), "a half-applied effect was rolled back")
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM audit_log`))
	})

	t.Run("ADatabaseFailureIsReturnedForARetry", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		ctx := context.Background()
		err := tn.b.region.DB.TenantTx(ctx, tn.ID, func(tx pgx.Tx) error {
			_, _ = tx.Exec(ctx, `SELECT 1/0`) // the transaction is now aborted
			return tn.b.fx.Apply(ctx, tx, tn.ID, Event{Provider: "stripe", EndpointID: tn.stripe, EventID: "evt_1",
				Type: "invoice.paid", Payload: fixture(t, "stripe/invoice.paid", nil)})
		})
		require.Error(t, err)
		require.Contains(t, err.Error(), "evt_1")
	})
}

// member is a member as stored.
type memberRow struct{ email, role string }

func (tn tenant) member(t *testing.T, user string) *memberRow {
	t.Helper()
	var rows []memberRow
	ctx := context.Background()
	require.NoError(t, tn.b.region.DB.TenantTx(ctx, tn.ID, func(tx pgx.Tx) error {
		r, err := tx.Query(ctx, `SELECT email, role FROM members WHERE org_id = $1 AND external_user_id = $2`, tn.ID, user)
		if err != nil {
			return err
		}
		rows, err = pgx.CollectRows(r, func(r pgx.CollectableRow) (memberRow, error) {
			var m memberRow
			return m, r.Scan(&m.email, &m.role)
		})
		return err
	}))
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

const adaUser = "user_2aUser0000000000000001"

// membership is the changes making an organizationMembership event of
// type for user with role.
func membership(eventType, user, role string) set {
	return set{"type": eventType, "data.role": role, "data.public_user_data.user_id": user}
}

func TestClerkMembers(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)

	t.Run("ALifecycle", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliver(t, "clerk", "user.created", "msg_1", nil)
		require.Equal(t, &memberRow{"ada@team.example", "member"}, tn.member(t, adaUser), "the primary address, a plain member")
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_2", nil)
		require.Equal(t, "admin", tn.member(t, adaUser).role, "org:admin")
		tn.mustDeliver(t, "clerk", "user.created", "msg_3", set{"type": "user.updated",
			"data.primary_email_address_id": "idn_2aSecondary0000000000"})
		require.Equal(t, &memberRow{"old-address@team.example", "admin"}, tn.member(t, adaUser), "the role is kept")
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_4", membership("organizationMembership.updated", adaUser, "basic_member"))
		require.Equal(t, "member", tn.member(t, adaUser).role)
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_5", membership("organizationMembership.updated", adaUser, "admin"))
		require.Equal(t, "admin", tn.member(t, adaUser).role)
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_6", membership("organizationMembership.updated", adaUser, "admin"))
		tn.mustDeliver(t, "clerk", "user.deleted", "msg_7", nil)
		require.Nil(t, tn.member(t, adaUser))
		tn.mustDeliver(t, "clerk", "user.deleted", "msg_8", nil)
		require.Equal(t, 1, tn.audits(t, "member.created"))
		require.Equal(t, 4, tn.audits(t, "member.updated"), "msg_6 changed nothing")
		require.Equal(t, 1, tn.audits(t, "member.deleted"))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'member.deleted' AND actor_id = 'clerk'
			AND metadata->>'event_id' = 'msg_7'`))
	})

	t.Run("AMembershipBeforeItsUserCreatesTheMember", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_1", nil)
		require.Equal(t, &memberRow{"ada@team.example", "admin"}, tn.member(t, adaUser))
		tn.mustDeliver(t, "clerk", "user.created", "msg_2", nil)
		require.Equal(t, &memberRow{"ada@team.example", "admin"}, tn.member(t, adaUser))
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_3", membership("organizationMembership.deleted", adaUser, "org:admin"))
		require.Nil(t, tn.member(t, adaUser), "no longer in the organization")
	})

	t.Run("TheOwnerIsTheOperators", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_1", membership("organizationMembership.updated", "user_owner", "basic_member"))
		tn.mustDeliver(t, "clerk", "user.deleted", "msg_2", set{"data.id": "user_owner"})
		require.Equal(t, &memberRow{"owner@team.example", "owner"}, tn.member(t, "user_owner"), "the identifier does not replace an email")
	})

	t.Run("AUsernameIdentifierIsNoEmail", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliver(t, "clerk", "organizationMembership.created", "msg_1", set{"data.public_user_data.identifier": "ada_lovelace"})
		require.Nil(t, tn.member(t, adaUser), "a username does not become the member's email")
		require.Zero(t, tn.audits(t, "member.created"))
		tn.mustDeliver(t, "clerk", "user.created", "msg_2", nil)
		require.Equal(t, &memberRow{"ada@team.example", "member"}, tn.member(t, adaUser), "the user's own address; the membership was never applied")
	})

	t.Run("AnEmailAnotherMemberHasIsNotTaken", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliver(t, "clerk", "user.created", "msg_1", set{"data.email_addresses": []any{map[string]any{
			"id": "idn_2aPrimary00000000000", "email_address": "owner@team.example"}}})
		require.Nil(t, tn.member(t, adaUser))
		require.Contains(t, b.logs.String(), "another member has user "+adaUser)
	})
}

// TestEffectsStayInTheirOrganization runs the same events for two
// organizations: each gets its own rows, and a referral code of one
// attributes nothing in the other.
func TestEffectsStayInTheirOrganization(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)
	one, two := b.tenant(t), b.tenant(t)
	r := one.Partner(t, "")
	two.Partner(t, "")
	for _, tn := range []tenant{one, two} {
		tn.mustDeliver(t, "stripe", "checkout.session.completed", "evt_checkout", set{"data.object.client_reference_id": r.Code})
		tn.mustDeliver(t, "stripe", "invoice.paid", "evt_paid", invoice("in_1", 4900, "eur", paidAt))
		tn.mustDeliver(t, "stripe", "charge.refunded", "evt_refund", refund("in_1"))
		tn.mustDeliver(t, "clerk", "user.created", "msg_1", nil)
	}
	reversed := "refunded"
	require.Equal(t, []commissionRow{{490, "EUR", "reversed", &reversed}}, one.commissions(t, "in_1"))
	require.Equal(t, &r.Affiliate, one.customer(t, customerID).affiliate)
	require.Nil(t, two.customer(t, customerID).affiliate, "the other organization's code names nothing here")
	require.Empty(t, two.commissions(t, "in_1"))
	for _, tn := range []tenant{one, two} {
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM customers`))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, 2, tn.Count(t, `SELECT count(*) FROM members`))
		require.Equal(t, 0, tn.Count(t, `SELECT count(*) FROM audit_log WHERE org_id <> $1`, tn.ID))
	}
	require.Equal(t, 0, two.Count(t, `SELECT count(*) FROM commissions`))
	require.Equal(t, 1, one.audits(t, "commission.reversed"))
	require.Equal(t, 0, two.audits(t, "commission.reversed"))
}
