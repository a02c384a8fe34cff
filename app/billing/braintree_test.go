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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/ledger"
)

// Braintree's ids in the fixtures.
const (
	braintreeTxn      = "7ma3nxkm"
	braintreeSaleID   = "braintree:txn:" + braintreeTxn
	braintreeCustomer = "braintree:customer:84321759"
)

// braintreeXML is testdata/braintree/name.xml with each pair of edits
// (old, new) made where old first occurs.
func braintreeXML(t testing.TB, name string, edits ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "braintree", name+".xml"))
	require.NoError(t, err)
	text := string(raw)
	require.Zero(t, len(edits)%2, "edits come in pairs")
	for i := 0; i < len(edits); i += 2 {
		require.Contains(t, text, edits[i], "an edit of %s", name)
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	return text
}

// braintreeDoc is a notification's XML as the webhook stores it: its event
// id (bt_ and the SHA-256 of the XML) and its document.
func braintreeDoc(t testing.TB, kind, timestamp, notification string) (string, []byte) {
	t.Helper()
	sum := sha256.Sum256([]byte(notification))
	doc, err := json.Marshal(map[string]string{"kind": kind, "timestamp": timestamp, "notification": notification})
	require.NoError(t, err)
	return "bt_" + hex.EncodeToString(sum[:]), doc
}

// deliverBraintree delivers testdata/braintree/name.xml, edited, as the
// webhook stores it, under the kind its XML names.
func (tn tenant) deliverBraintree(t *testing.T, name string, edits ...string) error {
	t.Helper()
	text := braintreeXML(t, name, edits...)
	var head struct {
		Timestamp string `xml:"timestamp"`
		Kind      string `xml:"kind"`
	}
	require.NoError(t, xml.Unmarshal([]byte(text), &head))
	id, doc := braintreeDoc(t, head.Kind, head.Timestamp, text)
	return tn.deliverTyped(t, "braintree", id, head.Kind, doc)
}

func (tn tenant) mustDeliverBraintree(t *testing.T, name string, edits ...string) {
	t.Helper()
	require.NoError(t, tn.deliverBraintree(t, name, edits...))
}

// customField is the edit giving the first transaction the custom field
// name.
func customField(name, value string) []string {
	return []string{"<custom-fields/>", "<custom-fields>\n<" + name + ">" + value + "</" + name + ">\n</custom-fields>"}
}

// disputeNotice is the edits making dispute_opened a notification of kind
// of dispute id, in status.
func disputeNotice(kind, id, status string) []string {
	return []string{"<kind>dispute_opened</kind>", "<kind>" + kind + "</kind>", "<id>wh5m2vk8ng3tbcq7</id>", "<id>" + id + "</id>",
		"<status>open</status>", "<status>" + status + "</status>"}
}

func TestBraintreeEffects(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)
	reason := func(s string) *string { return &s }
	sold := func(t *testing.T) tenant {
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverBraintree(t, "subscription_charged_successfully", customField("rekomi_ref", p.Code)...)
		return tn
	}

	t.Run("AChargeAttributedByACustomFieldIsOneSaleWhenDisbursed", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverBraintree(t, "subscription_charged_successfully", customField("rekomi_ref", p.Code)...)
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, braintreeSaleID),
			"10% of the latest charge, not of last month's")
		c := tn.customer(t, braintreeCustomer)
		require.Equal(t, &p.Affiliate, c.affiliate)
		require.Equal(t, "buyer@shop-customer.example", *c.email)
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions WHERE occurred_at = '2026-01-01T12:00:00Z'`),
			"at the transaction's created-at")
		tn.mustDeliverBraintree(t, "transaction_disbursed")
		tn.mustDeliverBraintree(t, "transaction_disbursed", "<kind>transaction_disbursed</kind>", "<kind>transaction_settled</kind>")
		require.Len(t, tn.commissions(t, braintreeSaleID), 1)
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM conversions`), "one sale per transaction")
		require.Equal(t, 1, tn.audits(t, "conversion.sale_tracked"))
	})

	t.Run("TheReferralCustomFieldDashedOrNot", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"referral", "rekomi-ref"} {
			tn := b.tenant(t)
			p := tn.Partner(t, "")
			tn.mustDeliverBraintree(t, "transaction_disbursed", customField(name, p.Code)...)
			require.Equal(t, &p.Affiliate, tn.customer(t, braintreeCustomer).affiliate, name)
		}
	})

	t.Run("ASubscriptionsDiscountNamesAPromoCode", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "commission_bps = 2000")
		tn.PromoCode(t, p.Affiliate, p.Campaign, "SPRING-2026")
		tn.mustDeliverBraintree(t, "subscription_charged_successfully")
		require.Equal(t, []commissionRow{{980, "EUR", "pending", nil}}, tn.commissions(t, braintreeSaleID))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM customers WHERE promo_code_id IS NOT NULL`))
	})

	t.Run("APromoCodeCustomFieldComesBeforeTheDiscounts", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		spring, welcome := tn.Partner(t, ""), tn.Partner(t, "")
		tn.PromoCode(t, spring.Affiliate, spring.Campaign, "spring-2026")
		tn.PromoCode(t, welcome.Affiliate, welcome.Campaign, "WELCOME")
		tn.mustDeliverBraintree(t, "subscription_charged_successfully", customField("promo_code", "welcome")...)
		require.Equal(t, &welcome.Affiliate, tn.customer(t, braintreeCustomer).affiliate)
	})

	t.Run("ATransactionsOwnDiscountNamesAPromoCode", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.PromoCode(t, p.Affiliate, p.Campaign, "spring-2026")
		tn.mustDeliverBraintree(t, "transaction_disbursed", `<discounts type="array"/>`,
			`<discounts type="array"><discount><amount>10.00</amount><id>spring-2026</id><name>Spring launch</name></discount></discounts>`)
		require.Equal(t, &p.Affiliate, tn.customer(t, braintreeCustomer).affiliate)
	})

	t.Run("AOneOffSaleInAZeroDecimalCurrency", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliverBraintree(t, "transaction_disbursed", slices.Concat([]string{"<id>7ma3nxkm</id>", "<id>k2x7v9qa</id>",
			"<currency-iso-code>EUR</currency-iso-code>", "<currency-iso-code>JPY</currency-iso-code>", "<amount>49.00</amount>", "<amount>5000</amount>",
			"<id>84321759</id>", `<id nil="true"/>`, "<subscription-id>dqwkkb</subscription-id>", `<subscription-id nil="true"/>`},
			customField("rekomi_ref", p.Code))...)
		require.Equal(t, []commissionRow{{500, "JPY", "pending", nil}}, tn.commissions(t, "braintree:txn:k2x7v9qa"))
		require.Equal(t, 5000, tn.Count(t, `SELECT amount::int FROM conversions`), "yen have no minor unit")
		require.Equal(t, &p.Affiliate, tn.customer(t, "braintree:guest:k2x7v9qa").affiliate,
			"a transaction of no customer nor subscription is its own customer")
	})

	t.Run("AChargeOfNoCustomerIsItsSubscriptions", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliverBraintree(t, "subscription_charged_successfully", "<id>84321759</id>", `<id nil="true"/>`)
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM customers WHERE external_id = 'braintree:subscription:dqwkkb'`))
	})

	t.Run("ACreditIsNoSale", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		tn.mustDeliverBraintree(t, "transaction_disbursed", "<type>sale</type>", "<type>credit</type>")
		tn.mustDeliverBraintree(t, "transaction_disbursed", "<kind>transaction_disbursed</kind>", "<kind>transaction_settled</kind>",
			"<status>settled</status>", "<status>settlement_declined</status>")
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM conversions`))
	})

	t.Run("ADisputeReversesTheCommissionAndWinningGivesItBack", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.mustDeliverBraintree(t, "dispute_opened", "<kind>chargeback</kind>", "<kind>retrieval</kind>", "<id>wh5m2vk8ng3tbcq7</id>", "<id>r8tq2m4e</id>")
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, braintreeSaleID), "a retrieval takes nothing")
		tn.mustDeliverBraintree(t, "dispute_opened")
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, braintreeSaleID))
		tn.mustDeliverBraintree(t, "dispute_opened", disputeNotice("dispute_won", "wh5m2vk8ng3tbcq7", "won")...)
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, braintreeSaleID))
		require.Equal(t, 1, tn.audits(t, "commission.restored"))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions WHERE source = 'braintree:dispute:wh5m2vk8ng3tbcq7'
			AND status = 'won' AND amount = 4900`))

		lost := sold(t)
		lost.mustDeliverBraintree(t, "dispute_opened")
		lost.mustDeliverBraintree(t, "dispute_opened", disputeNotice("dispute_lost", "wh5m2vk8ng3tbcq7", "lost")...)
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, lost.commissions(t, braintreeSaleID), "lost keeps it")
	})

	t.Run("EachDisputeKindReportsItsState", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		for kind, state := range map[string]string{
			"dispute_opened": "open", "dispute_disputed": "open", "dispute_under_review": "open", "dispute_won": "won",
			"dispute_lost": "lost", "dispute_accepted": "lost", "dispute_auto_accepted": "lost", "dispute_expired": "lost",
		} {
			tn.mustDeliverBraintree(t, "dispute_opened", disputeNotice(kind, "d"+strings.ReplaceAll(kind, "_", ""), "whatever")...)
			require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions WHERE source = $1 AND status = $2`,
				"braintree:dispute:d"+strings.ReplaceAll(kind, "_", ""), state), kind)
		}
	})

	t.Run("APaidCommissionIsClawedBackAndGivenBackWhenWon", func(t *testing.T) {
		t.Parallel()
		tn := sold(t)
		tn.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now()`)
		tn.mustDeliverBraintree(t, "dispute_opened", "<amount-disputed>49.00</amount-disputed>", "<amount-disputed>24.50</amount-disputed>")
		require.Equal(t, -245, tn.Count(t, `SELECT sum(amount)::int FROM commission_adjustments`), "half the sale disputed")
		tn.mustDeliverBraintree(t, "dispute_opened", disputeNotice("dispute_won", "wh5m2vk8ng3tbcq7", "won")...)
		require.Equal(t, 0, tn.Count(t, `SELECT sum(amount)::int FROM commission_adjustments`))
		require.Equal(t, 1, tn.audits(t, "commission.restored"))
		require.Equal(t, "paid", tn.commissions(t, braintreeSaleID)[0].status)
	})

	t.Run("ADisputeBeforeItsSaleIsAppliedWhenTheSaleComes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		// Of another transaction, and with the sale's transaction id as its own.
		tn.mustDeliverBraintree(t, "dispute_opened", "<id>7ma3nxkm</id>", "<id>9zzq4c1e</id>", "<id>wh5m2vk8ng3tbcq7</id>", "<id>7ma3nxkm</id>")
		tn.mustDeliverBraintree(t, "dispute_opened")
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM sale_reductions`))
		tn.mustDeliverBraintree(t, "subscription_charged_successfully", customField("rekomi_ref", p.Code)...)
		require.Equal(t, []commissionRow{{490, "EUR", "reversed", reason("disputed")}}, tn.commissions(t, braintreeSaleID))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions WHERE source = 'braintree:dispute:wh5m2vk8ng3tbcq7'`),
			"only the sale's own dispute")
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM sale_reductions`))
	})

	t.Run("NotificationsThatCanNeverApplyAreLoggedAndKept", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		malformed := [][]string{
			{"subscription_charged_successfully", "<id>dqwkkb</id>", "<id/>"},
			{"subscription_charged_successfully", "<status>submitted_for_settlement</status>", "<status>processor_declined</status>",
				"<status>settled</status>", "<status>voided</status>"},
			{"transaction_disbursed", "<id>7ma3nxkm</id>", "<id></id>"},
			{"transaction_disbursed", "<amount>49.00</amount>", "<amount>49,00</amount>"},
			{"transaction_disbursed", "<amount>49.00</amount>", "<amount>-49.00</amount>"},
			{"transaction_disbursed", "<currency-iso-code>EUR</currency-iso-code>", "<currency-iso-code>XYZ</currency-iso-code>"},
			{"transaction_disbursed", "<currency-iso-code>EUR</currency-iso-code>", "<currency-iso-code>JPY</currency-iso-code>"},
			{"dispute_opened", "<id>7ma3nxkm</id>", "<id/>"},
			{"dispute_opened", "<id>wh5m2vk8ng3tbcq7</id>", "<id>  </id>"},
			{"dispute_opened", "<amount-disputed>49.00</amount-disputed>", "<amount-disputed>lots</amount-disputed>"},
			{"dispute_opened", "<amount-disputed>49.00</amount-disputed>", "<amount-disputed>0.00</amount-disputed>"},
		}
		delivered := 0
		for _, m := range malformed {
			require.NoError(t, tn.deliverBraintree(t, m[0], m[1:]...), "%v", m)
			delivered++
		}
		for i, raw := range []struct{ kind, notification string }{
			{"subscription_charged_successfully", braintreeXML(t, "subscription_charged_successfully")[:900]},
			{"transaction_disbursed", "<transaction><id>7ma3nxkm</id><amount>49.00</amount></transaction>"},
			{"dispute_won", strings.ReplaceAll(braintreeXML(t, "dispute_opened"), "dispute>", "chargeback>")},
			{"dispute_won", ""},
		} {
			id, doc := braintreeDoc(t, raw.kind, "2026-01-01T12:00:10Z", raw.notification)
			require.NoError(t, tn.deliverTyped(t, "braintree", id, raw.kind, doc), "%d", i)
			delivered++
		}
		ignored := 0
		for _, line := range strings.Split(b.logs.String(), "\n") {
			if strings.Contains(line, "Ignoring a provider event that can never take effect") && strings.Contains(line, tn.ID.String()) {
				ignored++
			}
		}
		require.Equal(t, delivered, ignored, "each is logged")
		require.Equal(t, delivered, tn.Count(t, `SELECT count(*) FROM billing_events`), "each stays stored")
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM conversions`))
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM customers`))
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM audit_log`))
	})
}

// FuzzBraintreeNotification reads any XML as each kind's notification:
// it is read, or refused as unusable, and what is read is whole.
func FuzzBraintreeNotification(f *testing.F) {
	for _, name := range []string{"subscription_charged_successfully", "transaction_disbursed", "dispute_opened"} {
		f.Add(braintreeXML(f, name))
	}
	f.Fuzz(func(t *testing.T, notification string) {
		doc, err := json.Marshal(map[string]string{"kind": "x", "timestamp": "2026-01-01T12:00:10Z", "notification": notification})
		require.NoError(t, err)
		for _, kind := range []string{"subscription_charged_successfully", "transaction_disbursed"} {
			s, ok, err := braintreeSaleOf(kind, doc)
			require.True(t, err == nil || isUnusable(err), "%v", err)
			if ok {
				require.True(t, strings.HasPrefix(s.sale, "braintree:txn:") && ledger.ValidText(s.sale, 1, 255))
				require.True(t, strings.HasPrefix(s.customer, "braintree:") && ledger.ValidText(s.customer, 1, 255))
				require.GreaterOrEqual(t, s.amount, int64(0))
				require.True(t, ledger.ValidCurrency(s.currency))
				require.False(t, s.at.IsZero())
			}
		}
		for _, kind := range braintreeDisputeKinds {
			sale, r, ok, err := braintreeReductionOf(kind, doc)
			require.True(t, err == nil || isUnusable(err), "%v", err)
			if ok {
				require.True(t, strings.HasPrefix(sale, "braintree:txn:"))
				require.True(t, strings.HasPrefix(r.Source, "braintree:dispute:"))
				require.Positive(t, r.Amount)
				require.True(t, ledger.ValidCurrency(r.Currency))
			}
		}
	})
}
