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
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
	"github.com/rekomi/rekomi/app/server"
)

// commission gets a commission through the API.
func (s shop) commission(t *testing.T, id uuid.UUID) commissionAnswer {
	t.Helper()
	var c commissionAnswer
	require.Equal(t, http.StatusOK, s.b.call(t, http.MethodGet, "/v1/commissions/"+id.String(), s.key, "", nil, &c).StatusCode)
	return c
}

func (s shop) commissions(t *testing.T, query string) []uuid.UUID {
	t.Helper()
	var l listOf[commissionAnswer]
	require.Equal(t, http.StatusOK, s.b.call(t, http.MethodGet, "/v1/commissions?limit=100&"+query, s.key, "", nil, &l).StatusCode)
	out := []uuid.UUID{}
	for _, c := range l.Data {
		out = append(out, c.ID)
	}
	return out
}

// earn tracks a sale that occurred ago and returns its commission.
func (s shop) earn(t *testing.T, p ledgertest.Partner, ago time.Duration) commissionAnswer {
	t.Helper()
	sale := s.sale(t, "cus_"+uuid.NewString(), 10000, fields{"referral_code": p.Code, "occurred_at": past(ago)})
	require.NotNil(t, sale.Commission)
	return *sale.Commission
}

func (s shop) reverse(t *testing.T, id uuid.UUID, body string) (int, string) {
	t.Helper()
	a := s.b.send(t, "/v1/commissions/"+id.String()+"/reverse", s.key, body)
	return a.status, a.body
}

func TestCommissions(t *testing.T) {
	t.Parallel()
	b := setupRevenue(t)

	t.Run("StatusIsEffective", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "hold_days = 30")
		held := s.earn(t, p, day)
		due := s.earn(t, p, 31*day)
		require.Equal(t, "pending", held.Status)
		require.Equal(t, "approved", due.Status, "the hold is over")
		require.Nil(t, due.ApprovedAt, "not recorded yet")
		require.Equal(t, "approved", s.commission(t, due.ID).Status)
		require.Equal(t, []uuid.UUID{due.ID}, s.commissions(t, "status=approved"))
		require.Equal(t, []uuid.UUID{held.ID}, s.commissions(t, "status=pending"))
		var stored string
		s.Exec(t, []any{&stored}, `SELECT status FROM commissions WHERE id = $1`, due.ID)
		require.Equal(t, "pending", stored)

		s.Exec(t, nil, `UPDATE commissions SET approve_after = now() - interval '1 second' WHERE id = $1`, held.ID)
		require.Equal(t, "approved", s.commission(t, held.ID).Status, "approved as soon as approve_after passes")
		require.Empty(t, s.commissions(t, "status=pending"))
	})

	t.Run("ApproveDueCommissionsRecordsTheApproval", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p, other := s.Partner(t, "hold_days = 30"), s.Partner(t, "hold_days = 30")
		held, due1, due2 := s.earn(t, p, day), s.earn(t, p, 40*day), s.earn(t, p, 31*day)
		othersDue := s.earn(t, other, 40*day)
		reversed := s.earn(t, p, 40*day)
		status, body := s.reverse(t, reversed.ID, `{"reason":"refunded"}`)
		require.Equal(t, http.StatusOK, status, body)

		ctx := context.Background()
		approve := func() int64 {
			var n int64
			require.NoError(t, b.db.TenantTx(ctx, s.ID, func(tx pgx.Tx) error {
				var err error
				n, err = ledger.ApproveDueCommissions(ctx, tx, s.ID, p.Affiliate, due1.Currency)
				return err
			}))
			return n
		}
		require.EqualValues(t, 2, approve())
		require.EqualValues(t, 0, approve(), "nothing left to approve")
		for _, id := range []uuid.UUID{due1.ID, due2.ID} {
			var status string
			var approvedAt *time.Time
			s.Exec(t, []any{&status, &approvedAt}, `SELECT status, approved_at FROM commissions WHERE id = $1`, id)
			require.Equal(t, "approved", status)
			require.NotNil(t, approvedAt)
			c := s.commission(t, id)
			require.Equal(t, "approved", c.Status)
			require.NotNil(t, c.ApprovedAt)
		}
		require.Equal(t, "pending", s.commission(t, held.ID).Status)
		require.Equal(t, "reversed", s.commission(t, reversed.ID).Status)
		var othersStatus string
		s.Exec(t, []any{&othersStatus}, `SELECT status FROM commissions WHERE id = $1`, othersDue.ID)
		require.Equal(t, "pending", othersStatus, "only the given affiliate's commissions")

		var n int64
		require.NoError(t, b.db.TenantTx(ctx, uuid.New(), func(tx pgx.Tx) error {
			var err error
			n, err = ledger.ApproveDueCommissions(ctx, tx, s.ID, other.Affiliate, othersDue.Currency)
			return err
		}))
		require.Zero(t, n, "row-level security hides another tenant's rows")
	})

	t.Run("ListsFilterAndPage", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p1, p2 := s.Partner(t, ""), s.Partner(t, "")
		c1, c2, c3 := s.earn(t, p1, day), s.earn(t, p2, day), s.earn(t, p1, day)
		require.Equal(t, []uuid.UUID{c3.ID, c2.ID, c1.ID}, s.commissions(t, ""))
		require.Equal(t, []uuid.UUID{c3.ID, c1.ID}, s.commissions(t, "affiliate_id="+p1.Affiliate.String()))
		require.Equal(t, []uuid.UUID{c2.ID}, s.commissions(t, "campaign_id="+p2.Campaign.String()))
		require.Empty(t, s.commissions(t, "status=paid"))

		var page listOf[commissionAnswer]
		b.call(t, http.MethodGet, "/v1/commissions?limit=2", s.key, "", nil, &page)
		require.True(t, page.HasMore)
		b.call(t, http.MethodGet, "/v1/commissions?limit=2&starting_after="+page.Data[1].ID.String(), s.key, "", nil, &page)
		require.Len(t, page.Data, 1)
		require.Equal(t, c1.ID, page.Data[0].ID)
		require.False(t, page.HasMore)

		for _, q := range []string{"status=cancelled", "affiliate_id=someone", "campaign_id=1", "limit=0"} {
			var prob server.Problem
			resp := b.call(t, http.MethodGet, "/v1/commissions?"+q, s.key, "", nil, &prob)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
			require.Equal(t, "urn:rekomi:problem:invalid_request", prob.Type)
			require.Equal(t, strings.Split(q, "=")[0], prob.Errors[0].Field)
		}
	})

	t.Run("ReversesPendingAndApproved", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "hold_days = 30")
		for _, c := range []commissionAnswer{s.earn(t, p, day), s.earn(t, p, 31*day)} {
			status, body := s.reverse(t, c.ID, `{"reason":"refunded by the customer"}`)
			require.Equal(t, http.StatusOK, status, body)
			got := s.commission(t, c.ID)
			require.Equal(t, "reversed", got.Status)
			require.Equal(t, "refunded by the customer", *got.ReversedReason)
			require.NotNil(t, got.ReversedAt)
			b.requireAudit(t, s.ID, "commission.reversed", c.ID)

			status, body = s.reverse(t, c.ID, `{"reason":"again"}`)
			require.Equal(t, http.StatusOK, status, "reversing a reversed commission changes nothing")
			require.Contains(t, body, "refunded by the customer")
			require.Equal(t, 1, s.Audits(t, "commission.reversed", c.ID))
		}
		c := s.earn(t, p, day)
		first := b.post(t, "/v1/commissions/"+c.ID.String()+"/reverse", s.key, "rev-1", `{"reason":"fraud"}`)
		require.Equal(t, http.StatusOK, first.status)
		replay := b.post(t, "/v1/commissions/"+c.ID.String()+"/reverse", s.key, "rev-1", `{"reason":"fraud"}`)
		require.Equal(t, first.body, replay.body)
		require.Equal(t, "true", replay.header.Get(server.IdempotentReplayedHeader))
		b.requireAuditMetadata(t, s.ID, "commission.reversed", c.ID,
			`{"reason":"fraud","status_was":"pending","amount":1000,"currency":"EUR","affiliate_id":"`+c.AffiliateID.String()+
				`","conversion_id":"`+c.ConversionID.String()+`"}`)
	})

	t.Run("RefusesToReversePaidCommissions", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		p := s.Partner(t, "hold_days = 0")
		paid, inPayout := s.earn(t, p, day), s.earn(t, p, day)
		s.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now() WHERE id = $1`, paid.ID)
		var payout uuid.UUID
		s.Exec(t, []any{&payout}, `INSERT INTO payouts (org_id, affiliate_id, amount, currency, provider) VALUES ($1, $2, 1000, 'EUR', 'manual') RETURNING id`,
			s.ID, p.Affiliate)
		s.Exec(t, nil, `UPDATE commissions SET payout_id = $2 WHERE id = $1`, inPayout.ID, payout)
		for _, id := range []uuid.UUID{paid.ID, inPayout.ID} {
			status, prob := s.problem(t, http.MethodPost, "/v1/commissions/"+id.String()+"/reverse", js, `{"reason":"refund"}`)
			require.Equal(t, http.StatusConflict, status)
			require.Equal(t, "urn:rekomi:problem:conflict", prob.Type)
			require.Contains(t, prob.Detail, "adjustment")
			require.NotEqual(t, "reversed", s.commission(t, id).Status)
			require.Zero(t, s.Audits(t, "commission.reversed", id))
		}
		require.Equal(t, "paid", s.commission(t, paid.ID).Status)
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		c := s.earn(t, s.Partner(t, ""), day)
		path := "/v1/commissions/" + c.ID.String() + "/reverse"
		cases := map[string]struct {
			contentType, body string
			status            int
			problem, field    string
		}{
			"unknown field":   {js, `{"reason":"x","force":true}`, 400, "invalid_json", ""},
			"wrong type":      {js, `{"reason":42}`, 400, "invalid_json", ""},
			"not JSON":        {"text/plain", `reason=x`, 415, "unsupported_media_type", ""},
			"empty body":      {js, ``, 400, "invalid_json", ""},
			"missing reason":  {js, `{}`, 422, "validation_failed", "reason"},
			"empty reason":    {js, `{"reason":""}`, 422, "validation_failed", "reason"},
			"long reason":     {js, `{"reason":"` + strings.Repeat("é", 1001) + `"}`, 422, "validation_failed", "reason"},
			"NUL in reason":   {js, `{"reason":"a\u0000"}`, 422, "validation_failed", "reason"},
			"oversize reason": {js, `{"reason":"` + strings.Repeat("a", 5000) + `"}`, 413, "body_too_large", ""},
		}
		for name, tc := range cases {
			status, p := s.problem(t, http.MethodPost, path, tc.contentType, tc.body)
			require.Equal(t, tc.status, status, name)
			require.Equal(t, "urn:rekomi:problem:"+tc.problem, p.Type, name)
			if tc.field != "" {
				require.Len(t, p.Errors, 1, name)
				require.Equal(t, tc.field, p.Errors[0].Field, name)
			}
		}
		require.Equal(t, "pending", s.commission(t, c.ID).Status)
		status, _ := s.problem(t, http.MethodPost, "/v1/commissions/"+uuid.NewString()+"/reverse", js, `{"reason":"x"}`)
		require.Equal(t, http.StatusNotFound, status)
		status, _ = s.problem(t, http.MethodGet, "/v1/commissions/nope", "", "")
		require.Equal(t, http.StatusNotFound, status)
		status, long := s.reverse(t, c.ID, `{"reason":"`+strings.Repeat("é", 1000)+`"}`)
		require.Equal(t, http.StatusOK, status, long)
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		t.Parallel()
		a, other := b.seedShop(t, ""), b.seedShop(t, "")
		mine := a.earn(t, a.Partner(t, ""), day)
		p := other.Partner(t, "")
		theirs := other.earn(t, p, day)
		for _, req := range []struct{ method, path, body string }{
			{http.MethodGet, "/v1/commissions/" + theirs.ID.String(), ""},
			{http.MethodPost, "/v1/commissions/" + theirs.ID.String() + "/reverse", `{"reason":"mine now"}`},
		} {
			status, prob := a.problem(t, req.method, req.path, js, req.body)
			require.Equal(t, http.StatusNotFound, status, req.path)
			require.Equal(t, "urn:rekomi:problem:not_found", prob.Type)
		}
		require.Equal(t, "pending", other.commission(t, theirs.ID).Status)
		require.Equal(t, []uuid.UUID{mine.ID}, a.commissions(t, ""))
		require.Empty(t, a.commissions(t, "affiliate_id="+p.Affiliate.String()))
		require.Empty(t, a.commissions(t, "starting_after="+theirs.ID.String()))
	})

	t.Run("CancelledOrganizationsCannotReverse", func(t *testing.T) {
		t.Parallel()
		s := b.seedShop(t, "")
		c := s.earn(t, s.Partner(t, ""), day)
		b.cancelOrg(t, s.ID)
		status, prob := s.problem(t, http.MethodPost, "/v1/commissions/"+c.ID.String()+"/reverse", js, `{"reason":"x"}`)
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "urn:rekomi:problem:organization_cancelled", prob.Type)
		require.Equal(t, "pending", s.commission(t, c.ID).Status, "reads still work")
	})
}

// TestRevenueAnswersFitTheOpenAPIDocument checks the answers of tracking,
// customers, conversions and commissions against their schemas.
func TestRevenueAnswersFitTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := setupRevenue(t)
	_, doc := loadOpenAPI(t)
	s := b.seedShop(t, "")
	p := s.Partner(t, "")
	check := func(method, path, status, mediaType string, a rawAnswer) map[string]any {
		t.Helper()
		require.Equal(t, status, strconv.Itoa(a.status), "%s %s: %s", method, path, a.body)
		var v any
		require.NoError(t, json.Unmarshal([]byte(a.body), &v))
		schema := responseSchema(t, doc, method, path, status, mediaType)
		require.Empty(t, schemaMismatches(t, doc, schema, v, method+" "+path), "the answer does not fit the schema")
		m, _ := v.(map[string]any)
		return m
	}
	get := func(path string) rawAnswer {
		t.Helper()
		resp := b.get(t, path, "Authorization", "Bearer "+s.key)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return rawAnswer{status: resp.StatusCode, header: resp.Header, body: string(body)}
	}

	lead := check("post", "/v1/track/lead", "201", js, b.send(t, "/v1/track/lead", s.key,
		fields{"customer": fields{"external_id": "cus_1", "email": "c@example.com"}, "referral_code": p.Code, "external_id": "l1"}.json(t)))
	require.Nil(t, lead["currency"])
	check("post", "/v1/track/lead", "200", js, b.send(t, "/v1/track/lead", s.key, fields{"customer": customer("cus_1"), "external_id": "l1"}.json(t)))
	saleBody := fields{"customer": customer("cus_1"), "external_id": "o1", "amount": 1000, "currency": "EUR"}.json(t)
	sale := check("post", "/v1/track/sale", "201", js, b.send(t, "/v1/track/sale", s.key, saleBody))
	commission, ok := sale["commission"].(map[string]any)
	require.True(t, ok, "the sale earned a commission")
	require.Empty(t, schemaMismatches(t, doc, map[string]any{"$ref": "#/components/schemas/CommissionEarned"}, commission, "commission"))
	check("post", "/v1/track/sale", "200", js, b.send(t, "/v1/track/sale", s.key, saleBody))
	unearned := check("post", "/v1/track/sale", "201", js, b.send(t, "/v1/track/sale", s.key,
		fields{"customer": customer("cus_2"), "external_id": "o2", "amount": 1000, "currency": "EUR"}.json(t)))
	require.Contains(t, unearned, "commission")
	require.Nil(t, unearned["commission"])
	check("post", "/v1/track/sale", "422", "application/problem+json", b.send(t, "/v1/track/sale", s.key, `{"customer":{"external_id":"c"}}`))

	check("get", "/v1/customers", "200", js, get("/v1/customers"))
	check("get", "/v1/customers/{id}", "200", js, get("/v1/customers/"+lead["customer_id"].(string)))
	check("get", "/v1/conversions", "200", js, get("/v1/conversions"))
	check("get", "/v1/conversions", "400", "application/problem+json", get("/v1/conversions?kind=x"))
	check("get", "/v1/conversions/{id}", "200", js, get("/v1/conversions/"+sale["id"].(string)))
	check("get", "/v1/conversions/{id}", "404", "application/problem+json", get("/v1/conversions/"+uuid.NewString()))
	check("get", "/v1/commissions", "200", js, get("/v1/commissions?status=pending"))
	check("get", "/v1/commissions/{id}", "200", js, get("/v1/commissions/"+commission["id"].(string)))
	reversePath := "/v1/commissions/" + commission["id"].(string) + "/reverse"
	check("post", "/v1/commissions/{id}/reverse", "422", "application/problem+json", b.send(t, reversePath, s.key, `{}`))
	check("post", "/v1/commissions/{id}/reverse", "200", js, b.send(t, reversePath, s.key, `{"reason":"refund"}`))
	s.Exec(t, nil, `UPDATE commissions SET status = 'paid', reversed_reason = NULL, reversed_by = NULL, paid_at = now()`)
	check("post", "/v1/commissions/{id}/reverse", "409", "application/problem+json", b.send(t, reversePath, s.key, `{"reason":"refund"}`))
}
