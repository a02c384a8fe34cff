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
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/ledger"
)

// Shopify's ids in the fixtures.
const (
	shopifyOrderID    = "6179281059937"
	shopifyCustomerID = "7216455131361"
	shopifySale       = "shopify:order:" + shopifyOrderID
)

// shopifyFixtures names the fixture of each topic's body.
var shopifyFixtures = map[string]string{"orders/paid": "order", "refunds/create": "refund",
	"disputes/create": "dispute", "disputes/update": "dispute"}

// deliverShopify delivers the fixture of topic with changes as app/webhook
// stores a Shopify delivery: the webhook id and the topic from its headers,
// the body, the resource itself, as the payload.
func (tn tenant) deliverShopify(t *testing.T, topic, webhookID string, changes set) error {
	t.Helper()
	return tn.deliverTyped(t, "shopify", webhookID, topic, fixture(t, "shopify/"+shopifyFixtures[topic], changes))
}

func (tn tenant) mustDeliverShopify(t *testing.T, topic, webhookID string, changes set) {
	t.Helper()
	require.NoError(t, tn.deliverShopify(t, topic, webhookID, changes))
}

// shopifyTransaction is a transaction of a refund.
func shopifyTransaction(kind, status, amount, currency string) map[string]any {
	return map[string]any{"id": 7734910386273, "kind": kind, "status": status, "amount": amount, "currency": currency,
		"gateway": "shopify_payments", "order_id": 6179281059937}
}

// shopifyRefunded is the changes making the fixture's refund refund id,
// returning amount euros in one successful transaction.
func shopifyRefunded(id int64, amount string) set {
	return set{"id": id, "transactions": []any{shopifyTransaction("refund", "success", amount, "EUR")}}
}

// referredBy is the changes making the fixture's order land on a link
// carrying code.
func referredBy(code string) set {
	return set{"landing_site": "/products/ceramic-mug?ref=" + code}
}

func TestShopifyEffects(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)
	reason := func(s string) *string { return &s }

	t.Run("TheLandingSitesRefAttributes", func(t *testing.T) {
		t.Parallel()
		for name, landing := range map[string]string{
			"a path with ref":                       "/?ref=CODE",
			"a URL with rekomi_ref and fragment":    "https://shop.example/products/ceramic-mug?utm_source=blog&rekomi_ref=CODE#reviews",
			"a parameter that does not decode":      "/collections/all?q=%zz&ref=CODE",
			"ref before rekomi_ref, whatever order": "/?rekomi_ref=code-nobody-has&ref=CODE",
		} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tn := b.tenant(t)
				p := tn.Partner(t, "")
				tn.mustDeliverShopify(t, "orders/paid", "wh-order", set{"landing_site": strings.ReplaceAll(landing, "CODE", p.Code),
					"email": "checkout@shop-customer.example"})
				require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "10% of total_price")
				c := tn.customer(t, "shopify:customer:"+shopifyCustomerID)
				require.Equal(t, &p.Affiliate, c.affiliate)
				require.Equal(t, "buyer@shop-customer.example", *c.email, "the customer's email before the order's")
				require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'conversion.sale_tracked'
					AND actor_type = 'provider' AND actor_id = 'shopify' AND metadata->>'event_id' = 'wh-order'`))
			})
		}
	})

	t.Run("ANoteAttributeComesBeforeTheLandingSite", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"rekomi_ref", "referral"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				tn := b.tenant(t)
				p, other := tn.Partner(t, ""), tn.Partner(t, "")
				tn.mustDeliverShopify(t, "orders/paid", "wh-order", merge(referredBy(other.Code), set{"note_attributes": []any{
					map[string]any{"name": "gift_wrap", "value": "yes"}, map[string]any{"name": name, "value": " " + p.Code + " "}}}))
				require.Equal(t, &p.Affiliate, tn.customer(t, "shopify:customer:"+shopifyCustomerID).affiliate)
			})
		}
	})

	t.Run("ADiscountCodeAttributesWhenNothingElseDoes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "commission_bps = 2000")
		tn.PromoCode(t, p.Affiliate, p.Campaign, "spring")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", set{"discount_codes": []any{
			map[string]any{"code": "WELCOME5", "amount": "5.00", "type": "fixed_amount"},
			map[string]any{"code": "SPRING", "amount": "4.90", "type": "percentage"}}})
		require.Equal(t, []commissionRow{{980, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "the second code is the organization's")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM customers WHERE promo_code_id IS NOT NULL`))

		other := b.tenant(t)
		other.mustDeliverShopify(t, "orders/paid", "wh-order", set{"discount_codes": []any{map[string]any{"code": "SPRING"}}})
		require.Equal(t, 1, other.Count(t, `SELECT count(*) FROM conversions WHERE affiliate_id IS NULL`),
			"another organization's code attributes nothing")
	})

	t.Run("AGuestCheckoutIsItsOwnCustomer", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", merge(referredBy(p.Code),
			set{"customer": nil, "email": "guest@shop-customer.example"}))
		c := tn.customer(t, shopifySale)
		require.Equal(t, &p.Affiliate, c.affiliate)
		require.Equal(t, "guest@shop-customer.example", *c.email)
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, shopifySale))
	})

	t.Run("OneOrderUnderTwoWebhookIDsIsOneSale", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		tn.mustDeliverShopify(t, "orders/paid", "wh-order-again", referredBy(p.Code))
		require.Len(t, tn.commissions(t, shopifySale), 1)
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, 1, tn.audits(t, "conversion.sale_tracked"))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions WHERE occurred_at = '2026-01-01T12:00:00Z'`),
			"at processed_at")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order-unprocessed", set{"id": 6179281059938, "processed_at": nil})
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions WHERE occurred_at = '2026-01-01T11:59:40Z'`),
			"else at created_at")
	})

	t.Run("AZeroDecimalCurrency", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		for id, total := range map[int64]string{6179281059937: "4900", 6179281059938: "4900.00"} {
			tn.mustDeliverShopify(t, "orders/paid", "wh-"+total, merge(referredBy(p.Code),
				set{"id": id, "customer": nil, "currency": "JPY", "total_price": total}))
			require.Equal(t, []commissionRow{{490, "JPY", "pending", nil}}, tn.commissions(t, "shopify:order:"+strconv.FormatInt(id, 10)), total)
		}
		require.Equal(t, 2, tn.Count(t, `SELECT count(*) FROM conversions WHERE amount = 4900 AND currency = 'JPY'`), "4,900 yen each")
	})

	t.Run("RefundsTakeBackTheirShareToTheCent", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-1", shopifyRefunded(968542027041, "0.99"))
		require.Equal(t, []commissionRow{{480, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "490 less 9.9 rounded")
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-2", set{"id": 968542027042, "transactions": []any{
			shopifyTransaction("refund", "failure", "49.00", "EUR"), shopifyTransaction("refund", "success", "20.00", "EUR"),
			shopifyTransaction("refund", "success", "3.51", "EUR")}})
		require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, shopifySale),
			"half of the sale refunded in all; the failed transaction returned nothing")
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-2-again", shopifyRefunded(968542027042, "23.51"))
		tn.mustDeliverShopify(t, "refunds/create", "wh-restock", set{"id": 968542027043, "restock": true, "transactions": []any{}})
		require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, shopifySale),
			"a refund delivered again, or a restock, takes nothing more")
		require.Equal(t, 2, tn.Count(t, `SELECT count(*) FROM sale_reductions`))
		require.NotContains(t, b.logs.String(), `"event_id":"wh-restock"`, "a restock is no unusable event")
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-3", shopifyRefunded(968542027044, "24.50"))
		require.Equal(t, []commissionRow{{245, "EUR", "reversed", reason("refunded")}}, tn.commissions(t, shopifySale),
			"reversed when all is refunded, keeping its last amount")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'conversion.reduced'
			AND metadata->>'source' = 'shopify:refund:968542027041' AND metadata->>'shopify_order' = $1`, shopifyOrderID))
	})

	// A multi-currency shop records the sale in its own currency and
	// refunds in the currency the customer paid in: the refund takes the
	// same share of the sale, as the order's two totals say.
	t.Run("ARefundInThePresentmentCurrencyTakesItsShareInTheShops", func(t *testing.T) {
		t.Parallel()
		inDollars := set{"presentment_currency": "USD", "total_price_set": map[string]any{
			"shop_money":        map[string]any{"amount": "49.00", "currency_code": "EUR"},
			"presentment_money": map[string]any{"amount": "53.00", "currency_code": "USD"}}}
		refundedIn := func(id int64, amount, currency string) set {
			return set{"id": id, "transactions": []any{shopifyTransaction("refund", "success", amount, currency)}}
		}
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", merge(referredBy(p.Code), inDollars))
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-1", refundedIn(968542027041, "10.60", "USD"))
		require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "a fifth of 53.00 is a fifth of 49.00")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions WHERE amount = 980 AND currency = 'EUR'`))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'conversion.reduced'
			AND metadata->>'presentment_amount' = '1060' AND metadata->>'presentment_currency' = 'USD'`))
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-2", refundedIn(968542027042, "42.40", "USD"))
		require.Equal(t, []commissionRow{{392, "EUR", "reversed", reason("refunded")}}, tn.commissions(t, shopifySale), "all of it")

		early := b.tenant(t)
		q := early.Partner(t, "")
		early.mustDeliverShopify(t, "refunds/create", "wh-refund-1", refundedIn(968542027041, "26.50", "USD"))
		early.mustDeliverShopify(t, "orders/paid", "wh-order", merge(referredBy(q.Code), inDollars))
		require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, early.commissions(t, shopifySale),
			"a refund stored before its order is converted when the order comes")
	})

	t.Run("APaidCommissionIsClawedBack", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		tn.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now()`)
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund", shopifyRefunded(968542027041, "9.80"))
		require.Equal(t, -98, tn.Count(t, `SELECT sum(amount)::int FROM commission_adjustments WHERE reason = 'refunded'`))
		require.Equal(t, []commissionRow{{490, "EUR", "paid", nil}}, tn.commissions(t, shopifySale), "a paid commission stays as paid")
		require.Equal(t, 1, tn.audits(t, "commission.clawed_back"))
	})

	t.Run("ADisputeWonGivesTheCommissionBack", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		tn.mustDeliverShopify(t, "disputes/create", "wh-dispute", nil)
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, shopifySale))
		tn.mustDeliverShopify(t, "disputes/update", "wh-dispute-review", set{"status": "under_review"})
		tn.mustDeliverShopify(t, "disputes/update", "wh-dispute-won", set{"status": "won", "finalized_on": "2026-02-02T10:00:00+01:00"})
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, shopifySale))
		require.Equal(t, 1, tn.audits(t, "commission.restored"))
		tn.mustDeliverShopify(t, "disputes/create", "wh-dispute-replayed", nil)
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "won stays won")
	})

	t.Run("ADisputeLostKeepsTheCommission", func(t *testing.T) {
		t.Parallel()
		for _, status := range []string{"lost", "accepted"} {
			t.Run(status, func(t *testing.T) {
				t.Parallel()
				tn := b.tenant(t)
				p := tn.Partner(t, "")
				tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
				tn.mustDeliverShopify(t, "disputes/create", "wh-dispute", set{"amount": "24.50"})
				require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "half disputed")
				tn.mustDeliverShopify(t, "disputes/update", "wh-dispute-"+status, set{"amount": "24.50", "status": status})
				require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, shopifySale))
				require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions WHERE status = 'lost'`))
			})
		}
	})

	// A chargeback settled by refunding the charge, or prevented (a refund
	// made instead), is taken back by that refund alone, not twice.
	t.Run("ADisputeSettledByARefundTakesTheRefundOnly", func(t *testing.T) {
		t.Parallel()
		for _, status := range []string{"charge_refunded", "prevented"} {
			t.Run(status, func(t *testing.T) {
				t.Parallel()
				tn := b.tenant(t)
				p := tn.Partner(t, "")
				tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
				tn.mustDeliverShopify(t, "disputes/create", "wh-dispute", set{"amount": "9.80"})
				require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "a fifth disputed")
				tn.mustDeliverShopify(t, "refunds/create", "wh-refund", shopifyRefunded(968542027041, "9.80"))
				tn.mustDeliverShopify(t, "disputes/update", "wh-dispute-"+status, set{"amount": "9.80", "status": status})
				require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, shopifySale), "a fifth refunded, once")
			})
		}
	})

	t.Run("AnInquiryTakesNothing", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		tn.mustDeliverShopify(t, "disputes/create", "wh-inquiry", set{"type": "inquiry"})
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, shopifySale))
		tn.mustDeliverShopify(t, "disputes/update", "wh-chargeback", set{"status": "needs_response"})
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, shopifySale),
			"until it turns into a chargeback")
	})

	t.Run("ARefundOrDisputeBeforeItsOrderIsAppliedWhenItComes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund", shopifyRefunded(968542027041, "9.80"))
		tn.mustDeliverShopify(t, "disputes/create", "wh-dispute", set{"amount": "14.70"})
		tn.mustDeliverShopify(t, "refunds/create", "wh-refund-other", merge(shopifyRefunded(968542027042, "49.00"),
			set{"order_id": 6179281059938}))
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM sale_reductions`))
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, shopifySale),
			"a fifth refunded and three tenths disputed; another order's refund is not this one's")
	})

	t.Run("IDsPastAFloatsPrecisionStayExact", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		refund := func(id, order string) []byte {
			return []byte(`{"id":` + id + `,"order_id":` + order + `,"restock":false,"transactions":[{"id":1,"kind":"refund",
				"status":"success","amount":"24.50","currency":"EUR","order_id":` + order + `}]}`)
		}
		// 820982911946154508 and ...509 are one float64.
		require.NoError(t, tn.deliverTyped(t, "shopify", "wh-refund-509", "refunds/create", refund("890088186047892319", "820982911946154509")))
		require.NoError(t, tn.deliverTyped(t, "shopify", "wh-refund-508", "refunds/create", refund("890088186047892320", "820982911946154508")))
		require.NoError(t, tn.deliverTyped(t, "shopify", "wh-order", "orders/paid", []byte(`{"id":820982911946154508,
			"email":"buyer@shop-customer.example","financial_status":"paid","total_price":"49.00","currency":"EUR",
			"landing_site":"/?ref=`+p.Code+`","customer":{"id":115310627314723954,"email":"buyer@shop-customer.example"}}`)))
		require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, "shopify:order:820982911946154508"))
		require.Equal(t, &p.Affiliate, tn.customer(t, "shopify:customer:115310627314723954").affiliate)
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions WHERE source = 'shopify:refund:890088186047892320'`))
	})

	t.Run("EventsThatCanNeverApplyAreLoggedAndKept", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverShopify(t, "orders/paid", "wh-order", referredBy(p.Code))
		body := func(name string, changes set) []byte { return fixture(t, "shopify/"+name, changes) }
		refundOf := func(transactions ...any) []byte { return body("refund", set{"transactions": transactions}) }
		paid := func(currency, amount string) any { return shopifyTransaction("refund", "success", amount, currency) }
		cases := map[string]struct {
			topic string
			body  []byte
		}{
			"an order without id":                   {"orders/paid", body("order", set{"id": nil})},
			"an order with an id that is no id":     {"orders/paid", body("order", set{"id": "#1042"})},
			"an order not paid":                     {"orders/paid", body("order", set{"id": 6179281059938, "financial_status": "pending"})},
			"an order without financial status":     {"orders/paid", body("order", set{"id": 6179281059938, "financial_status": nil})},
			"an order of no amount":                 {"orders/paid", body("order", set{"id": 6179281059938, "total_price": "lots"})},
			"an order of a negative amount":         {"orders/paid", body("order", set{"id": 6179281059938, "total_price": "-49.00"})},
			"an order in an unknown currency":       {"orders/paid", body("order", set{"id": 6179281059938, "currency": "XYZ"})},
			"an order whose total is a number":      {"orders/paid", body("order", set{"id": 6179281059938, "total_price": 49})},
			"a refund without id":                   {"refunds/create", body("refund", set{"id": nil})},
			"a refund without order":                {"refunds/create", body("refund", set{"order_id": nil})},
			"a refund of a malformed amount":        {"refunds/create", body("refund", shopifyRefunded(968542027041, "9,80"))},
			"a refund in an unknown currency":       {"refunds/create", refundOf(paid("XYZ", "9.80"))},
			"a refund in another currency":          {"refunds/create", refundOf(paid("USD", "9.80"))},
			"a refund in two currencies":            {"refunds/create", refundOf(paid("USD", "9.80"), paid("EUR", "9.80"))},
			"a dispute without amount":              {"disputes/create", body("dispute", set{"amount": nil})},
			"a dispute of nothing":                  {"disputes/create", body("dispute", set{"amount": "0.00"})},
			"a dispute without order":               {"disputes/create", body("dispute", set{"order_id": nil})},
			"a dispute in an unknown currency":      {"disputes/update", body("dispute", set{"currency": "XYZ", "status": "lost"})},
			"an order's body under a refund topic":  {"refunds/create", body("order", nil)},
			"a refund's body under a dispute topic": {"disputes/create", body("refund", nil)},
			// A transaction has an id, an order_id, an amount, a currency and
			// a status, as a dispute has.
			"a transaction's body under a dispute topic": {"disputes/create", []byte(`{"id":7734910386999,"order_id":6179281059937,` +
				`"kind":"capture","gateway":"shopify_payments","status":"success","amount":"49.00","currency":"EUR",` +
				`"created_at":"2026-01-01T12:00:00+01:00","processed_at":"2026-01-01T12:00:00+01:00","parent_id":null}`)},
			"a dispute of an unknown type":   {"disputes/create", body("dispute", set{"type": "retrieval"})},
			"a dispute of an unknown status": {"disputes/update", body("dispute", set{"status": "success"})},
		}
		for name, tc := range cases {
			require.NoError(t, tn.deliverTyped(t, "shopify", "wh-"+name, tc.topic, tc.body), name)
		}
		ignored := 0
		for _, line := range strings.Split(b.logs.String(), "\n") {
			if strings.Contains(line, "Ignoring a provider event that can never take effect") && strings.Contains(line, tn.ID.String()) {
				ignored++
			}
		}
		require.Equal(t, len(cases), ignored, "each is logged")
		require.Equal(t, len(cases)+1, tn.Count(t, `SELECT count(*) FROM billing_events`), "each stays stored")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, shopifySale))
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM sale_reductions`))
	})
}

// FuzzShopifyBodies reads arbitrary bodies as each topic's resource: none
// panics, every refusal is an unusable event, and what reads names its
// order canonically and takes back more than nothing.
func FuzzShopifyBodies(f *testing.F) {
	for _, name := range []string{"order", "refund", "dispute"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "shopify", name+".json"))
		require.NoError(f, err)
		f.Add(raw, "/?ref=CODE")
	}
	f.Add([]byte(`{"id":820982911946154508,"order_id":1e3,"amount":"-0","currency":"jpy","transactions":[{}]}`), "?%zz&ref=%20")
	f.Fuzz(func(t *testing.T, body []byte, landing string) {
		if s, err := shopifySaleOf(body); err != nil {
			require.True(t, isUnusable(err), "%v", err)
		} else {
			require.Regexp(t, `^shopify:order:[1-9][0-9]*$`, s.sale)
			require.Regexp(t, `^shopify:(order|customer):[1-9][0-9]*$`, s.customer)
			require.GreaterOrEqual(t, s.amount, int64(0))
			require.True(t, ledger.ValidCurrency(s.currency), s.currency)
		}
		for _, topic := range []string{"refunds/create", "disputes/update"} {
			sale, r, ok, err := shopifyReductionOf(topic, body)
			if err != nil {
				require.True(t, isUnusable(err), "%v", err)
				continue
			}
			if ok {
				require.Regexp(t, `^shopify:order:[1-9][0-9]*$`, sale)
				require.Positive(t, r.Amount)
				require.True(t, ledger.ValidCurrency(r.Currency), r.Currency)
			}
		}
		if ref := shopifyLandingRef(landing); ref != "" {
			require.Equal(t, optionalText(ref), ref)
		}
	})
}
