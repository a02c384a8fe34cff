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
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
	"github.com/rekomi/rekomi/app/server"
)

// Fixtures for tracking and commissions: affiliates, campaigns, links and
// clicks are written directly as the runtime role in the shop's tenant
// transaction, not through their APIs.

type customerAnswer struct {
	Object       string     `json:"object"`
	ID           uuid.UUID  `json:"id"`
	ExternalID   *string    `json:"external_id"`
	Email        *string    `json:"email"`
	AffiliateID  *uuid.UUID `json:"affiliate_id"`
	LinkID       *uuid.UUID `json:"link_id"`
	ClickID      *int64     `json:"click_id"`
	PromoCodeID  *uuid.UUID `json:"promo_code_id"`
	AttributedBy *string    `json:"attributed_by"`
	AttributedAt *time.Time `json:"attributed_at"`
	SelfReferral bool       `json:"self_referral"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

type commissionAnswer struct {
	Object         string     `json:"object"`
	ID             uuid.UUID  `json:"id"`
	ConversionID   uuid.UUID  `json:"conversion_id"`
	AffiliateID    uuid.UUID  `json:"affiliate_id"`
	CampaignID     uuid.UUID  `json:"campaign_id"`
	Amount         int64      `json:"amount"`
	Currency       string     `json:"currency"`
	Status         string     `json:"status"`
	ApproveAfter   time.Time  `json:"approve_after"`
	ApprovedAt     *time.Time `json:"approved_at"`
	ReversedAt     *time.Time `json:"reversed_at"`
	ReversedReason *string    `json:"reversed_reason"`
	PayoutID       *uuid.UUID `json:"payout_id"`
}

type conversionAnswer struct {
	Object      string            `json:"object"`
	ID          uuid.UUID         `json:"id"`
	Kind        string            `json:"kind"`
	ExternalID  *string           `json:"external_id"`
	CustomerID  uuid.UUID         `json:"customer_id"`
	Amount      int64             `json:"amount"`
	Currency    *string           `json:"currency"`
	AffiliateID *uuid.UUID        `json:"affiliate_id"`
	CampaignID  *uuid.UUID        `json:"campaign_id"`
	OccurredAt  time.Time         `json:"occurred_at"`
	Customer    customerAnswer    `json:"customer"`
	Commission  *commissionAnswer `json:"commission"`
}

type listOf[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

// shop is an organization with a read-write key.
type shop struct {
	ledgertest.Org
	b   *bundle
	key string
}

// seedShop adds an organization named name ("" picks a unique name) with
// a read-write key.
func (b *bundle) seedShop(t *testing.T, name string) shop {
	t.Helper()
	if name == "" {
		name = "shop-" + uuid.NewString()[:8]
	}
	org, key := b.seedOrg(t, name, server.ScopeRead, server.ScopeWrite)
	return shop{Org: b.org(org), b: b, key: key}
}

// fields is a request body.
type fields map[string]any

func (f fields) json(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(f)
	require.NoError(t, err)
	return string(b)
}

func customer(externalID string) fields { return fields{"external_id": externalID} }

// track posts body to /v1/track/{kind} and decodes a conversion, failing
// unless the status is one of want.
func (s shop) track(t *testing.T, kind string, body fields, want int) conversionAnswer {
	t.Helper()
	a := s.b.send(t, "/v1/track/"+kind, s.key, body.json(t))
	require.Equal(t, want, a.status, a.body)
	var c conversionAnswer
	require.NoError(t, json.Unmarshal([]byte(a.body), &c))
	return c
}

// sale tracks a sale of amount EUR with a fresh order id.
func (s shop) sale(t *testing.T, customerID string, amount int64, extra fields) conversionAnswer {
	t.Helper()
	body := fields{"customer": customer(customerID), "external_id": "order-" + uuid.NewString(), "amount": amount, "currency": "EUR"}
	for k, v := range extra {
		body[k] = v
	}
	return s.track(t, "sale", body, http.StatusCreated)
}

// send posts a JSON body without an Idempotency-Key.
func (b *bundle) send(t *testing.T, path, key, body string) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", js)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (s shop) problem(t *testing.T, method, path, contentType, body string) (int, server.Problem) {
	t.Helper()
	var p server.Problem
	resp := s.b.call(t, method, path, s.key, contentType, strings.NewReader(body), &p)
	return resp.StatusCode, p
}

func setupRevenue(t *testing.T) *bundle {
	t.Helper()
	srv := dbtest.Start(t)
	return setup(t, srv, func(c *config.Config) {
		c.MaxBodyBytes = 4096
		c.RateLimit, c.RateBurst = 1000, 1000
	})
}

// past is a time well inside every test window, at a whole second.
func past(d time.Duration) time.Time { return time.Now().UTC().Add(-d).Truncate(time.Second) }

const day = 24 * time.Hour

func TestTrackAttribution(t *testing.T) {
	t.Parallel()
	b := setupRevenue(t)

	t.Run("LastClickWins", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p1, p2 := s.Partner(t, ""), s.Partner(t, "")
		visitor := uuid.New()
		s.Click(t, p1.Link, visitor, past(3*day), false)
		last := s.Click(t, p2.Link, visitor, past(day), false)
		lead := s.track(t, "lead", fields{"customer": fields{"external_id": "cus_1", "email": "bob@example.com"},
			"visitor_id": visitor, "external_id": "signup-1"}, http.StatusCreated)
		require.Equal(t, "conversion", lead.Object)
		require.Equal(t, "lead", lead.Kind)
		require.Zero(t, lead.Amount)
		require.Nil(t, lead.Currency)
		require.Equal(t, p2.Affiliate, *lead.AffiliateID)
		require.Equal(t, p2.Campaign, *lead.CampaignID)
		require.Equal(t, "customer", lead.Customer.Object)
		require.Equal(t, p2.Affiliate, *lead.Customer.AffiliateID)
		require.Equal(t, p2.Link, *lead.Customer.LinkID)
		require.Equal(t, last, *lead.Customer.ClickID)
		require.NotNil(t, lead.Customer.AttributedAt)
		require.False(t, lead.Customer.SelfReferral)
		require.Equal(t, "bob@example.com", *lead.Customer.Email)
		require.Equal(t, 1, s.Audits(t, "conversion.lead_tracked", lead.ID))
		b.requireAuditMetadata(t, s.ID, "conversion.lead_tracked", lead.ID, `{"customer_id":"`+lead.CustomerID.String()+
			`","affiliate_id":"`+p2.Affiliate.String()+`","campaign_id":"`+p2.Campaign.String()+`","attributed":true,"attributed_by":"click","self_referral":false}`)
	})

	t.Run("FirstClickWins", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p1 := s.Partner(t, "attribution_model = 'first_click'")
		a2 := s.Affiliate(t, "second@partners.example", "active")
		l2, _ := s.Link(t, a2, p1.Campaign)
		visitor := uuid.New()
		first := s.Click(t, p1.Link, visitor, past(3*day), false)
		s.Click(t, l2, visitor, past(2*day), false)
		s.Click(t, l2, visitor, past(day), false)
		lead := s.track(t, "lead", fields{"customer": customer("cus_1"), "visitor_id": visitor}, http.StatusCreated)
		require.Equal(t, first, *lead.Customer.ClickID)
		require.Equal(t, p1.Affiliate, *lead.AffiliateID)
	})

	t.Run("ClicksAcrossCampaignsFollowTheModelOfTheMostRecentClick", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		firstModel, lastModel := s.Partner(t, "attribution_model = 'first_click'"), s.Partner(t, "")

		v1 := uuid.New()
		s.Click(t, firstModel.Link, v1, past(5*day), false)
		recent := s.Click(t, lastModel.Link, v1, past(day), false)
		lead := s.track(t, "lead", fields{"customer": customer("cus_1"), "visitor_id": v1}, http.StatusCreated)
		require.Equal(t, recent, *lead.Customer.ClickID, "the most recent click's campaign is last_click")
		require.Equal(t, lastModel.Campaign, *lead.CampaignID)

		v2 := uuid.New()
		earliest := s.Click(t, lastModel.Link, v2, past(5*day), false)
		s.Click(t, firstModel.Link, v2, past(day), false)
		lead = s.track(t, "lead", fields{"customer": customer("cus_2"), "visitor_id": v2}, http.StatusCreated)
		require.Equal(t, earliest, *lead.Customer.ClickID, "the most recent click's campaign is first_click")
		require.Equal(t, lastModel.Campaign, *lead.CampaignID)
	})

	t.Run("WindowEdges", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "attribution_window_days = 7")
		clickAt := past(30 * day)
		cases := []struct {
			name       string
			occurredAt time.Time
			clickLater time.Duration // the click's time after clickAt
			attributed bool
		}{
			{"at the click", clickAt, 0, true},
			{"a second before the window ends", clickAt.Add(7*day - time.Second), 0, true},
			{"as the window ends", clickAt.Add(7 * day), 0, false},
			{"a second before the click", clickAt.Add(-time.Second), 0, false},
			// A time in whole seconds, as Stripe gives it, covers its second.
			{"in the second of the click, given in whole seconds", clickAt, 700 * time.Millisecond, true},
			{"in the second before the click's, given in whole seconds", clickAt.Add(-time.Second), 700 * time.Millisecond, false},
		}
		for i, tc := range cases {
			visitor := uuid.New()
			s.Click(t, p.Link, visitor, clickAt.Add(tc.clickLater), false)
			lead := s.track(t, "lead", fields{"customer": customer("cus_" + tc.name), "visitor_id": visitor,
				"occurred_at": tc.occurredAt.Format(time.RFC3339)}, http.StatusCreated)
			require.Equal(t, tc.attributed, lead.Customer.AffiliateID != nil, "case %d: %s", i, tc.name)
			require.True(t, tc.occurredAt.Equal(lead.OccurredAt), tc.name)
		}
	})

	t.Run("BotClicksAreIgnored", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		human, bot := s.Partner(t, ""), s.Partner(t, "")
		visitor := uuid.New()
		kept := s.Click(t, human.Link, visitor, past(3*day), false)
		s.Click(t, bot.Link, visitor, past(day), true)
		lead := s.track(t, "lead", fields{"customer": customer("cus_1"), "visitor_id": visitor}, http.StatusCreated)
		require.Equal(t, kept, *lead.Customer.ClickID)

		botOnly := uuid.New()
		s.Click(t, bot.Link, botOnly, past(day), true)
		lead = s.track(t, "lead", fields{"customer": customer("cus_2"), "visitor_id": botOnly}, http.StatusCreated)
		require.Nil(t, lead.Customer.AffiliateID)
		require.Nil(t, lead.AffiliateID)
		require.Nil(t, lead.CampaignID)
	})

	t.Run("ReferralCodeAttributesWithoutAClick", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p, other := s.Partner(t, ""), s.Partner(t, "")
		lead := s.track(t, "lead", fields{"customer": customer("cus_1"), "referral_code": p.Code}, http.StatusCreated)
		require.Equal(t, p.Affiliate, *lead.Customer.AffiliateID)
		require.Equal(t, p.Link, *lead.Customer.LinkID)
		require.Nil(t, lead.Customer.ClickID)

		visitor := uuid.New()
		click := s.Click(t, other.Link, visitor, past(day), false)
		lead = s.track(t, "lead", fields{"customer": customer("cus_2"), "referral_code": p.Code, "visitor_id": visitor}, http.StatusCreated)
		require.Equal(t, click, *lead.Customer.ClickID, "a click in its window comes before the code")

		lead = s.track(t, "lead", fields{"customer": customer("cus_3"), "referral_code": p.Code, "visitor_id": uuid.New()}, http.StatusCreated)
		require.Equal(t, p.Link, *lead.Customer.LinkID, "the code applies when the visitor has no click")

		s.Exec(t, nil, `UPDATE referral_links SET disabled_at = now() WHERE org_id = $1 AND id = $2`, s.ID, p.Link)
		lead = s.track(t, "lead", fields{"customer": customer("cus_4"), "referral_code": p.Code}, http.StatusCreated)
		require.Nil(t, lead.Customer.AffiliateID, "a disabled link attributes nothing")
		lead = s.track(t, "lead", fields{"customer": customer("cus_5"), "referral_code": "no-such-code"}, http.StatusCreated)
		require.Nil(t, lead.Customer.AffiliateID, "an unknown code attributes nothing, and the lead is still recorded")
	})

	t.Run("TheFirstAttributionStays", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p, other := s.Partner(t, ""), s.Partner(t, "")
		lead := s.track(t, "lead", fields{"customer": customer("cus_1"), "referral_code": p.Code}, http.StatusCreated)
		sale := s.sale(t, "cus_1", 1000, fields{"referral_code": other.Code})
		require.Equal(t, lead.CustomerID, sale.CustomerID)
		require.Equal(t, p.Affiliate, *sale.Customer.AffiliateID)
		require.Equal(t, p.Campaign, *sale.CampaignID)
		require.Equal(t, p.Affiliate, sale.Commission.AffiliateID)
		b.requireAuditMetadata(t, s.ID, "conversion.sale_tracked", sale.ID, `{"customer_id":"`+sale.CustomerID.String()+
			`","affiliate_id":"`+p.Affiliate.String()+`","campaign_id":"`+p.Campaign.String()+`","attributed":false,
			"attributed_by":"link_code","self_referral":false,"amount":1000,"currency":"EUR","commission_id":"`+sale.Commission.ID.String()+
			`","commission_amount":100,"commission_currency":"EUR"}`)
	})

	t.Run("SelfReferralIsRecordedWithoutCommission", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "")
		s.Exec(t, nil, `UPDATE affiliates SET email = 'Ann@Example.com' WHERE org_id = $1 AND id = $2`, s.ID, p.Affiliate)
		sale := s.sale(t, "cus_1", 5000, fields{"customer": fields{"external_id": "cus_1", "email": "ann@example.COM"}, "referral_code": p.Code})
		require.True(t, sale.Customer.SelfReferral)
		require.Equal(t, p.Affiliate, *sale.Customer.AffiliateID, "still attributed")
		require.Nil(t, sale.Commission)
		require.Zero(t, s.Count(t, `SELECT count(*) FROM commissions`))
		var skipped string
		s.Exec(t, []any{&skipped}, `SELECT metadata->>'commission_skipped' FROM audit_log WHERE target_id = $1`, sale.ID.String())
		require.Equal(t, "self_referral", skipped)

		lead := s.track(t, "lead", fields{"customer": customer("cus_2"), "referral_code": p.Code}, http.StatusCreated)
		require.False(t, lead.Customer.SelfReferral, "no email yet")
		sale = s.sale(t, "cus_2", 5000, fields{"customer": fields{"external_id": "cus_2", "email": "ANN@example.com"}})
		require.True(t, sale.Customer.SelfReferral, "the email given later is checked")
		require.Nil(t, sale.Commission)
	})

	t.Run("CustomersAreUpserted", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		first := s.track(t, "lead", fields{"customer": fields{"external_id": "cus_1", "email": "old@example.com"}}, http.StatusCreated)
		second := s.sale(t, "cus_1", 100, nil)
		require.Equal(t, first.CustomerID, second.CustomerID)
		require.Equal(t, "old@example.com", *second.Customer.Email, "an absent email keeps the stored one")
		third := s.sale(t, "cus_1", 100, fields{"customer": fields{"external_id": "cus_1", "email": "new@example.com"}})
		require.Equal(t, "new@example.com", *third.Customer.Email)
		require.Equal(t, 1, s.Count(t, `SELECT count(*) FROM customers`))

		var got customerAnswer
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/customers/"+first.CustomerID.String(), s.key, "", nil, &got).StatusCode)
		require.Equal(t, "new@example.com", *got.Email)
		var customers listOf[customerAnswer]
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/customers", s.key, "", nil, &customers).StatusCode)
		require.Len(t, customers.Data, 1)

		var conversions listOf[conversionAnswer]
		b.call(t, http.MethodGet, "/v1/conversions?kind=sale&customer_id="+first.CustomerID.String(), s.key, "", nil, &conversions)
		require.Len(t, conversions.Data, 2)
		require.Equal(t, third.ID, conversions.Data[0].ID, "newest first")
		b.call(t, http.MethodGet, "/v1/conversions?kind=lead", s.key, "", nil, &conversions)
		require.Len(t, conversions.Data, 1)
		b.call(t, http.MethodGet, "/v1/conversions?limit=1", s.key, "", nil, &conversions)
		require.True(t, conversions.HasMore)
		b.call(t, http.MethodGet, "/v1/conversions?limit=2&starting_after="+conversions.Data[0].ID.String(), s.key, "", nil, &conversions)
		require.Equal(t, []uuid.UUID{second.ID, first.ID}, []uuid.UUID{conversions.Data[0].ID, conversions.Data[1].ID})
		require.False(t, conversions.HasMore)
		var one conversionAnswer
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/conversions/"+first.ID.String(), s.key, "", nil, &one).StatusCode)
		require.Equal(t, "lead", one.Kind)

		for _, q := range []string{"kind=refund", "customer_id=nope"} {
			status, p := s.problem(t, http.MethodGet, "/v1/conversions?"+q, "", "")
			require.Equal(t, http.StatusBadRequest, status, q)
			require.Equal(t, "urn:rekomi:problem:invalid_request", p.Type)
			require.Equal(t, strings.Split(q, "=")[0], p.Errors[0].Field)
		}
	})
}
