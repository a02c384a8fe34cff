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

package server_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/ledger/ledgertest"
	"github.com/rekomi/rekomi/app/server"
)

// at parses an RFC 3339 time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

// earnedAt tracks a sale at when for the customer and returns its
// commission amount, 0 if none.
func (s shop) earnedAt(t *testing.T, p ledgertest.Partner, customerID string, amount int64, when string) int64 {
	t.Helper()
	sale := s.sale(t, customerID, amount, fields{"referral_code": p.Code, "occurred_at": when})
	if sale.Commission == nil {
		return 0
	}
	return sale.Commission.Amount
}

func TestTrackSales(t *testing.T) {
	t.Parallel()
	b := setupRevenue(t)

	t.Run("EarnsAPendingCommission", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "hold_days = 14")
		occurred := past(time.Hour)
		sale := s.sale(t, "cus_1", 12345, fields{"referral_code": p.Code, "occurred_at": occurred})
		require.Equal(t, "sale", sale.Kind)
		require.EqualValues(t, 12345, sale.Amount)
		require.Equal(t, "EUR", *sale.Currency)
		require.Equal(t, p.Affiliate, *sale.AffiliateID)
		require.Equal(t, p.Campaign, *sale.CampaignID)
		c := sale.Commission
		require.NotNil(t, c)
		require.Equal(t, "commission", c.Object)
		require.EqualValues(t, 1235, c.Amount, "10% of 123.45 is 12.345, rounded half up")
		require.Equal(t, "EUR", c.Currency)
		require.Equal(t, "pending", c.Status)
		require.True(t, occurred.Add(14*day).Equal(c.ApproveAfter), "approve_after is occurred_at plus the hold")
		require.Equal(t, sale.ID, c.ConversionID)
		require.Equal(t, p.Campaign, c.CampaignID)
		require.Equal(t, 1, s.Audits(t, "conversion.sale_tracked", sale.ID))
		require.Zero(t, s.Count(t, `SELECT count(*) FROM audit_log WHERE action LIKE 'commission.%'`),
			"the commission is recorded in the sale's one entry")
	})

	t.Run("AnUnattributedSaleEarnsNothing", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		sale := s.sale(t, "cus_1", 1000, nil)
		require.Nil(t, sale.Commission)
		require.Nil(t, sale.AffiliateID)
	})

	t.Run("OnlyActiveAffiliatesOfLiveCampaignsEarn", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "recurrence = 'lifetime'")
		s.Exec(t, nil, `UPDATE affiliates SET status = 'suspended' WHERE org_id = $1 AND id = $2`, s.ID, p.Affiliate)
		sale := s.sale(t, "cus_1", 1000, fields{"referral_code": p.Code})
		require.Equal(t, p.Affiliate, *sale.Customer.AffiliateID, "attributed all the same")
		require.Nil(t, sale.Commission, "a suspended affiliate earns nothing")

		s.Exec(t, nil, `UPDATE affiliates SET status = 'pending' WHERE org_id = $1 AND id = $2`, s.ID, p.Affiliate)
		require.Nil(t, s.sale(t, "cus_1", 1000, nil).Commission, "nor does one not yet approved")

		s.Exec(t, nil, `UPDATE affiliates SET status = 'active' WHERE org_id = $1 AND id = $2`, s.ID, p.Affiliate)
		require.NotNil(t, s.sale(t, "cus_1", 1000, nil).Commission, "once active, later sales earn")

		s.Exec(t, nil, `UPDATE campaigns SET archived_at = now() WHERE org_id = $1 AND id = $2`, s.ID, p.Campaign)
		require.Nil(t, s.sale(t, "cus_1", 1000, nil).Commission, "an archived campaign pays nothing new")
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM commissions`))
	})

	t.Run("OneTimePaysTheFirstCommissionableSale", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "")
		require.Zero(t, s.earnedAt(t, p, "cus_1", 0, "2025-01-01T00:00:00Z"), "a free sale earns nothing and does not count")
		require.EqualValues(t, 100, s.earnedAt(t, p, "cus_1", 1000, "2025-01-02T00:00:00Z"))
		require.Zero(t, s.earnedAt(t, p, "cus_1", 1000, "2025-02-02T00:00:00Z"))
		require.Zero(t, s.earnedAt(t, p, "cus_1", 1000, "2025-01-01T12:00:00Z"), "not even an earlier one reported late")
		require.EqualValues(t, 200, s.earnedAt(t, p, "cus_2", 2000, "2025-02-02T00:00:00Z"), "per customer")
	})

	t.Run("RecurringPaysWithinItsMonths", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "recurrence = 'recurring', recurring_months = 2")
		require.EqualValues(t, 100, s.earnedAt(t, p, "cus_1", 1000, "2025-01-31T10:00:00Z"))
		require.EqualValues(t, 100, s.earnedAt(t, p, "cus_1", 1000, "2025-02-28T10:00:00Z"))
		require.EqualValues(t, 100, s.earnedAt(t, p, "cus_1", 1000, "2025-03-31T09:59:59Z"), "a second before two months")
		require.Zero(t, s.earnedAt(t, p, "cus_1", 1000, "2025-03-31T10:00:00Z"), "two months after the first")
		require.Zero(t, s.earnedAt(t, p, "cus_1", 1000, "2025-06-01T00:00:00Z"))

		short := s.Partner(t, "recurrence = 'recurring', recurring_months = 1")
		require.EqualValues(t, 100, s.earnedAt(t, short, "cus_2", 1000, "2025-01-31T10:00:00Z"))
		require.EqualValues(t, 100, s.earnedAt(t, short, "cus_2", 1000, "2025-02-28T09:59:59Z"))
		require.Zero(t, s.earnedAt(t, short, "cus_2", 1000, "2025-02-28T10:00:00Z"), "January 31 plus a month is February 28")
		require.Zero(t, s.earnedAt(t, short, "cus_2", 1000, "2025-03-02T00:00:00Z"))
	})

	t.Run("LifetimePaysEverySale", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "recurrence = 'lifetime', commission_type = 'flat', commission_bps = NULL, commission_amount = 500, currency = 'USD'")
		for _, when := range []string{"2020-01-01T00:00:00Z", "2023-06-15T00:00:00Z", "2025-12-31T23:59:59Z"} {
			sale := s.sale(t, "cus_1", 99999, fields{"referral_code": p.Code, "occurred_at": when})
			require.NotNil(t, sale.Commission, when)
			require.EqualValues(t, 500, sale.Commission.Amount, "flat")
			require.Equal(t, "USD", sale.Commission.Currency, "a flat commission is in the campaign's currency")
		}
		free := s.sale(t, "cus_1", 0, nil)
		require.EqualValues(t, 500, free.Commission.Amount, "a flat commission does not depend on the amount")
	})

	t.Run("PercentageRoundsHalfUpInIntegers", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "recurrence = 'lifetime', commission_bps = 1250")
		for _, tc := range []struct{ amount, want int64 }{
			{4, 1},  // 0.5
			{3, 0},  // 0.375: no commission
			{12, 2}, // 1.5
			{11, 1}, // 1.375
			{1000, 125},
			{9223372036854775807, 1152921504606846976}, // no overflow
		} {
			sale := s.sale(t, "cus_1", tc.amount, fields{"referral_code": p.Code, "currency": "JPY"})
			if tc.want == 0 {
				require.Nil(t, sale.Commission, tc.amount)
				continue
			}
			require.Equal(t, tc.want, sale.Commission.Amount, tc.amount)
			require.Equal(t, "JPY", sale.Commission.Currency, "a percentage is in the sale's currency")
		}
	})

	t.Run("ADuplicateSaleChangesNothing", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "recurrence = 'lifetime'")
		body := fields{"customer": customer("cus_1"), "external_id": "inv_1", "amount": 1000, "currency": "EUR", "referral_code": p.Code}
		first := s.track(t, "sale", body, http.StatusCreated)
		body["amount"], body["customer"] = 5000, fields{"external_id": "cus_1", "email": "changed@example.com"}
		again := s.track(t, "sale", body, http.StatusOK)
		require.Equal(t, first.ID, again.ID)
		require.EqualValues(t, 1000, again.Amount, "the stored sale")
		require.Equal(t, first.Commission.ID, again.Commission.ID)
		require.Nil(t, again.Customer.Email, "the customer is untouched")
		require.Equal(t, first.Customer.UpdatedAt, again.Customer.UpdatedAt)
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM commissions`))
		require.Equal(t, 1, s.Audits(t, "conversion.sale_tracked", first.ID))

		lead := fields{"customer": customer("cus_2"), "external_id": "inv_1"}
		l1 := s.track(t, "lead", lead, http.StatusCreated)
		require.NotEqual(t, first.ID, l1.ID, "a lead's external id is apart from a sale's")
		l2 := s.track(t, "lead", lead, http.StatusOK)
		require.Equal(t, l1.ID, l2.ID)
		require.Equal(t, 1, s.Audits(t, "conversion.lead_tracked", l1.ID))
		require.NotEqual(t, s.track(t, "lead", fields{"customer": customer("cus_2")}, http.StatusCreated).ID,
			s.track(t, "lead", fields{"customer": customer("cus_2")}, http.StatusCreated).ID, "leads without an external id are all kept")
	})

	t.Run("ConcurrentDuplicatesRecordOneSale", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "")
		body := fields{"customer": customer("cus_rush"), "external_id": "inv_rush", "amount": 1000, "currency": "EUR", "referral_code": p.Code}.json(t)
		answers := make([]rawAnswer, 10)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = b.send(t, "/v1/track/sale", s.key, body) })
		}
		wg.Wait()
		created := 0
		for _, a := range answers {
			require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
			if a.status == http.StatusCreated {
				created++
			}
		}
		require.Equal(t, 1, created)
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM commissions`))
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM customers`))
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'conversion.sale_tracked'`))
	})

	t.Run("IdempotencyKeyReplays", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		body := fields{"customer": customer("cus_1"), "external_id": "inv_1", "amount": 1, "currency": "EUR"}.json(t)
		first := b.post(t, "/v1/track/sale", s.key, "sale-inv-1", body)
		require.Equal(t, http.StatusCreated, first.status)
		second := b.post(t, "/v1/track/sale", s.key, "sale-inv-1", body)
		require.Equal(t, http.StatusCreated, second.status)
		require.Equal(t, first.body, second.body)
		require.Equal(t, "true", second.header.Get(server.IdempotentReplayedHeader))
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		const sale = `"external_id":"o1","amount":100,"currency":"EUR"`
		cases := map[string]struct {
			path, contentType, body string
			status                  int
			problem, field          string
		}{
			"unknown field":             {"sale", js, `{"customer":{"external_id":"c"},` + sale + `,"coupon":"x"}`, 400, "invalid_json", ""},
			"unknown customer field":    {"lead", js, `{"customer":{"external_id":"c","name":"x"}}`, 400, "invalid_json", ""},
			"amount on a lead":          {"lead", js, `{"customer":{"external_id":"c"},"amount":1}`, 400, "invalid_json", ""},
			"wrong type":                {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","amount":"100","currency":"EUR"}`, 400, "invalid_json", ""},
			"fractional money":          {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","amount":1.5,"currency":"EUR"}`, 400, "invalid_json", ""},
			"bad UTF-8":                 {"lead", js, "{\"customer\":{\"external_id\":\"\xff\"}}", 400, "invalid_json", ""},
			"not JSON":                  {"lead", "text/plain", `customer=c`, 415, "unsupported_media_type", ""},
			"oversize body":             {"lead", js, `{"customer":{"external_id":"` + strings.Repeat("a", 5000) + `"}}`, 413, "body_too_large", ""},
			"missing customer":          {"lead", js, `{}`, 422, "validation_failed", "customer"},
			"missing customer id":       {"lead", js, `{"customer":{"email":"a@b.c"}}`, 422, "validation_failed", "customer.external_id"},
			"empty customer id":         {"lead", js, `{"customer":{"external_id":""}}`, 422, "validation_failed", "customer.external_id"},
			"customer id too long":      {"lead", js, `{"customer":{"external_id":"` + strings.Repeat("é", 256) + `"}}`, 422, "validation_failed", "customer.external_id"},
			"NUL in customer id":        {"lead", js, `{"customer":{"external_id":"a\u0000b"}}`, 422, "validation_failed", "customer.external_id"},
			"bad email":                 {"lead", js, `{"customer":{"external_id":"c","email":"nobody"}}`, 422, "validation_failed", "customer.email"},
			"bad visitor id":            {"lead", js, `{"customer":{"external_id":"c"},"visitor_id":"cookie"}`, 422, "validation_failed", "visitor_id"},
			"bad referral code":         {"lead", js, `{"customer":{"external_id":"c"},"referral_code":"a b"}`, 422, "validation_failed", "referral_code"},
			"empty lead external id":    {"lead", js, `{"customer":{"external_id":"c"},"external_id":""}`, 422, "validation_failed", "external_id"},
			"bad occurred_at":           {"lead", js, `{"customer":{"external_id":"c"},"occurred_at":"yesterday"}`, 422, "validation_failed", "occurred_at"},
			"future occurred_at":        {"lead", js, `{"customer":{"external_id":"c"},"occurred_at":"` + time.Now().Add(10*time.Minute).Format(time.RFC3339) + `"}`, 422, "validation_failed", "occurred_at"},
			"ancient occurred_at":       {"sale", js, `{"customer":{"external_id":"c"},` + sale + `,"occurred_at":"1999-12-31T23:59:59Z"}`, 422, "validation_failed", "occurred_at"},
			"sale without external id":  {"sale", js, `{"customer":{"external_id":"c"},"amount":100,"currency":"EUR"}`, 422, "validation_failed", "external_id"},
			"sale without amount":       {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","currency":"EUR"}`, 422, "validation_failed", "amount"},
			"negative money":            {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","amount":-1,"currency":"EUR"}`, 422, "validation_failed", "amount"},
			"unknown currency":          {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","amount":1,"currency":"XYZ"}`, 422, "validation_failed", "currency"},
			"lower-case currency":       {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","amount":1,"currency":"eur"}`, 422, "validation_failed", "currency"},
			"sale without currency":     {"sale", js, `{"customer":{"external_id":"c"},"external_id":"o1","amount":1}`, 422, "validation_failed", "currency"},
			"bad promo code":            {"sale", js, `{"customer":{"external_id":"c"},` + sale + `,"promo_code":"SPRING SALE"}`, 422, "validation_failed", "promo_code"},
			"promo code on a lead":      {"lead", js, `{"customer":{"external_id":"c"},"promo_code":"SPRING"}`, 400, "invalid_json", ""},
			"sale external id too long": {"sale", js, `{"customer":{"external_id":"c"},"external_id":"` + strings.Repeat("x", 256) + `","amount":1,"currency":"EUR"}`, 422, "validation_failed", "external_id"},
		}
		for name, tc := range cases {
			status, p := s.problem(t, http.MethodPost, "/v1/track/"+tc.path, tc.contentType, tc.body)
			require.Equal(t, tc.status, status, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		require.Zero(t, s.Count(t, `SELECT count(*) FROM conversions`))
		require.Zero(t, s.Count(t, `SELECT count(*) FROM customers`))
		require.Zero(t, s.Count(t, `SELECT count(*) FROM audit_log`))
	})

	t.Run("APromoCodeAttributesWhenNoClickOrLinkDoes", func(t *testing.T) {
		t.Parallel()
		s, other := b.seedShop(t, ""), b.seedShop(t, "")
		p := s.Partner(t, "commission_bps = 1500")
		code := s.PromoCode(t, p.Affiliate, p.Campaign, "SPRING")
		q := other.Partner(t, "")
		other.PromoCode(t, q.Affiliate, q.Campaign, "SPRING")

		sale := s.sale(t, "cus_code", 10000, fields{"promo_code": "spring"})
		require.Equal(t, p.Affiliate, *sale.Customer.AffiliateID, "matched without regard to case")
		require.Equal(t, code, *sale.Customer.PromoCodeID)
		require.Equal(t, "promo_code", *sale.Customer.AttributedBy)
		require.Nil(t, sale.Customer.LinkID)
		require.NotNil(t, sale.Commission)
		require.EqualValues(t, 1500, sale.Commission.Amount)
		require.Equal(t, p.Campaign, sale.Commission.CampaignID)

		linked := s.Partner(t, "")
		won := s.sale(t, "cus_link", 10000, fields{"promo_code": "SPRING", "referral_code": linked.Code})
		require.Equal(t, linked.Affiliate, *won.Customer.AffiliateID, "a link wins over a code")
		require.Equal(t, "link_code", *won.Customer.AttributedBy)

		theirs := other.sale(t, "cus_code", 10000, fields{"promo_code": "SPRING"})
		require.Equal(t, q.Affiliate, *theirs.Customer.AffiliateID, "each organization's SPRING is its own")
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		t.Parallel()
		a, other := b.seedShop(t, ""), b.seedShop(t, "")
		p := other.Partner(t, "")
		visitor := uuid.New()
		other.Click(t, p.Link, visitor, past(day), false)
		mine := a.sale(t, "cus_1", 1000, fields{"referral_code": p.Code, "visitor_id": visitor})
		require.Nil(t, mine.Customer.AffiliateID, "another organization's code and clicks attribute nothing")
		require.Nil(t, mine.Commission)

		theirs := other.sale(t, "cus_1", 1000, fields{"referral_code": p.Code, "external_id": *mine.ExternalID})
		require.NotEqual(t, mine.ID, theirs.ID, "external ids are per organization")
		require.NotEqual(t, mine.CustomerID, theirs.CustomerID)
		for _, path := range []string{"/v1/conversions/" + theirs.ID.String(), "/v1/customers/" + theirs.CustomerID.String()} {
			status, p := a.problem(t, http.MethodGet, path, "", "")
			require.Equal(t, http.StatusNotFound, status, path)
			require.Equal(t, "urn:rekomi:problem:not_found", p.Type)
		}
		var conversions listOf[conversionAnswer]
		b.call(t, http.MethodGet, "/v1/conversions?limit=100", a.key, "", nil, &conversions)
		require.Len(t, conversions.Data, 1)
		require.Equal(t, mine.ID, conversions.Data[0].ID)
		b.call(t, http.MethodGet, "/v1/conversions?customer_id="+theirs.CustomerID.String(), a.key, "", nil, &conversions)
		require.Empty(t, conversions.Data)
		var customers listOf[customerAnswer]
		b.call(t, http.MethodGet, "/v1/customers?limit=100", a.key, "", nil, &customers)
		require.Len(t, customers.Data, 1)
		require.Equal(t, mine.CustomerID, customers.Data[0].ID)
		status, _ := a.problem(t, http.MethodGet, "/v1/conversions/not-an-id", "", "")
		require.Equal(t, http.StatusNotFound, status)
	})

	t.Run("CancelledOrganizationsCannotTrack", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		sale := s.sale(t, "cus_1", 1000, nil)
		b.cancelOrg(t, s.ID)
		for _, req := range []struct{ path, body string }{
			{"/v1/track/lead", `{"customer":{"external_id":"c"}}`},
			{"/v1/track/sale", `{"customer":{"external_id":"c"},"external_id":"o2","amount":1,"currency":"EUR"}`},
		} {
			status, p := s.problem(t, http.MethodPost, req.path, js, req.body)
			require.Equal(t, http.StatusForbidden, status, req.path)
			require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		}
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/conversions/"+sale.ID.String(), s.key, "", nil, nil).StatusCode)
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM conversions`))
	})
}
