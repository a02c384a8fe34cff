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
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// stripeFixture is a Stripe event from testdata/stripe with fields set by
// dotted path, encoded as Stripe sends it.
func stripeFixture(t *testing.T, name string, set map[string]any) string {
	t.Helper()
	raw, err := os.ReadFile("../billing/testdata/stripe/" + name + ".json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	for path, v := range set {
		keys := strings.Split(path, ".")
		m := doc
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		m[keys[len(keys)-1]] = v
	}
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return string(out)
}

// TestReferralToRefund follows one referral through every public door of
// the app: a link is created with the API, a browser follows it and gets
// the visitor cookie, Stripe reports the checkout, two paid invoices (one
// delivered twice) and a refund, and the API shows two commissions, one
// reversed, with every step in a valid audit log, and nothing of it in
// another organization.
func TestReferralToRefund(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) {
		c.MaxBodyBytes = 4096
		c.RateLimit, c.RateBurst = 1000, 1000
	})
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
	endpoint := b.seedEndpoint(t, orgA, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	b.tenantObjects(t, keyB) // organization B has objects of every kind, untouched below

	// The merchant sets up a recurring 20% campaign, an affiliate and a link.
	post := func(path, body string, want int) map[string]any {
		t.Helper()
		var out map[string]any
		resp := b.call(t, http.MethodPost, path, keyA, "application/json", strings.NewReader(body), &out)
		require.Equal(t, want, resp.StatusCode, "%s: %v", path, out)
		return out
	}
	campaign := post("/v1/campaigns", `{"name":"Pro plan","currency":"EUR","commission":{"type":"percentage","percent_bps":2000},`+
		`"recurrence":{"type":"recurring","months":12},"hold_days":0}`, http.StatusCreated)
	aff := post("/v1/affiliates", `{"email":"ada@partner.example"}`, http.StatusCreated)
	post("/v1/affiliates/accept", `{"token":"`+aff["invite"].(map[string]any)["token"].(string)+`"}`, http.StatusOK)
	post("/v1/affiliates/"+aff["id"].(string)+"/approve", ``, http.StatusOK)
	link := post("/v1/links", `{"affiliate_id":"`+aff["id"].(string)+`","campaign_id":"`+campaign["id"].(string)+
		`","destination_url":"https://acme.example/pricing?plan=pro"}`, http.StatusCreated)

	// A browser follows the link.
	resp := b.follow(t, link["code"].(string))
	require.Equal(t, http.StatusFound, resp.StatusCode)
	dest, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, link["code"], dest.Query().Get("ref"))
	require.Equal(t, "pro", dest.Query().Get("plan"))
	cookie := visitorCookie(resp)
	require.NotNil(t, cookie)
	require.Eventually(t, func() bool {
		return b.countRows(t, orgA, `SELECT count(*) FROM clicks`) == 1
	}, 10*time.Second, 50*time.Millisecond, "the click is stored")

	// Stripe reports the checkout, two paid invoices (one twice) and a
	// refund, each a little later: Stripe's times are whole seconds.
	now := time.Now().Unix() + 1
	deliver := func(body string) {
		t.Helper()
		d := b.deliver(t, webhookPath("stripe", endpoint), stripeSigned(time.Now().Unix(), body, stripeSecret), body)
		require.Equal(t, http.StatusOK, d.status, string(d.body))
	}
	deliver(stripeFixture(t, "checkout.session.completed", map[string]any{"id": "evt_checkout", "data.object.client_reference_id": cookie.Value,
		"data.object.customer": "cus_e2e", "created": now}))
	invoice := func(eventID, id string, paid int64) string {
		return stripeFixture(t, "invoice.paid", map[string]any{"id": eventID, "created": paid + 5, "data.object.id": id,
			"data.object.customer": "cus_e2e", "data.object.amount_paid": 4900, "data.object.currency": "eur",
			"data.object.status_transitions.paid_at": paid, "data.object.charge": "ch_" + id, "data.object.payment_intent": "pi_" + id})
	}
	first := invoice("evt_invoice_1", "in_month_1", now+1)
	deliver(first)
	deliver(first) // a replay changes nothing
	deliver(invoice("evt_invoice_2", "in_month_2", now+2))
	deliver(stripeFixture(t, "charge.refunded", map[string]any{"id": "evt_refund", "created": now + 3, "data.object.id": "ch_in_month_2",
		"data.object.invoice": "in_month_2", "data.object.payment_intent": "pi_in_month_2", "data.object.customer": "cus_e2e"}))

	// The merchant sees two commissions, the second reversed.
	var commissions listOf[commissionAnswer]
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/commissions?limit=100", keyA, "", nil, &commissions).StatusCode)
	require.Len(t, commissions.Data, 2)
	byStatus := map[string]commissionAnswer{}
	for _, c := range commissions.Data {
		require.EqualValues(t, 980, c.Amount, "20% of 49.00 EUR")
		require.Equal(t, "EUR", c.Currency)
		require.Equal(t, aff["id"], c.AffiliateID.String())
		byStatus[c.Status] = c
	}
	require.Contains(t, byStatus, "reversed")
	require.NotNil(t, byStatus["reversed"].ReversedReason)
	delete(byStatus, "reversed")
	require.Len(t, byStatus, 1, "one commission is reversed, the other stands")
	for status := range byStatus {
		require.Contains(t, []string{"pending", "approved"}, status, "the first month's commission stands")
	}

	// Every step is in the audit log, whose chain verifies.
	var received listOf[map[string]any]
	b.call(t, http.MethodGet, "/v1/audit-log?action=billing_event.received&limit=100", keyA, "", nil, &received)
	require.Len(t, received.Data, 4, "checkout, two invoices and the refund; the replay is not recorded")
	var verification map[string]any
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/audit-log/verify", keyA, "", nil, &verification).StatusCode)
	require.Equal(t, true, verification["ok"], "%v", verification)

	// None of it reached the other organization.
	for _, path := range []string{"/v1/commissions", "/v1/customers", "/v1/conversions"} {
		var other listOf[map[string]any]
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, path+"?limit=100", keyB, "", nil, &other).StatusCode)
		for _, row := range other.Data {
			require.NotContains(t, []any{"cus_e2e", "in_month_1", "in_month_2"}, row["external_id"], "%s of organization B", path)
		}
	}
	require.Zero(t, b.countRows(t, orgB, `SELECT count(*) FROM clicks`))
	require.Zero(t, b.countRows(t, orgB, `SELECT count(*) FROM billing_events`))
	require.Equal(t, 1, b.countRows(t, orgA, `SELECT count(*) FROM customers WHERE external_id = 'cus_e2e'`))
	ctx := context.Background()
	require.NoError(t, b.db.TenantTx(ctx, orgA, func(tx pgx.Tx) error {
		var clickVisitor uuid.UUID
		return tx.QueryRow(ctx, `SELECT c.visitor_id FROM customers k JOIN clicks c ON c.org_id = k.org_id AND c.id = k.click_id
			WHERE k.external_id = 'cus_e2e'`).Scan(&clickVisitor)
	}), "the customer is attributed to the browser's click")
}

// TestConcurrentDeliveriesEarnOnce delivers one invoice.paid event 50 times
// at once for a referred customer: one stored event, one sale, one
// commission, one audit entry of each.
func TestConcurrentDeliveriesEarnOnce(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) {
		c.MaxBodyBytes = 4096
		c.RateLimit, c.RateBurst = 1000, 1000
	})
	org, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	endpoint := b.seedEndpoint(t, org, endpointSeed{provider: "stripe", secrets: []string{stripeSecret}})
	ids := b.tenantObjects(t, key) // an active affiliate's link in a 10% campaign
	var link map[string]any
	require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/links/"+ids["/v1/links/"], key, "", nil, &link).StatusCode)
	lead := `{"customer":{"external_id":"cus_many","email":"many@example.com"},"referral_code":"` + link["code"].(string) + `"}`
	require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/track/lead", key, "application/json", strings.NewReader(lead), nil).StatusCode)

	body := stripeFixture(t, "invoice.paid", map[string]any{"id": "evt_many", "data.object.id": "in_many", "data.object.customer": "cus_many",
		"data.object.amount_paid": 10000, "data.object.currency": "eur", "data.object.status_transitions.paid_at": time.Now().Unix()})
	header := stripeSigned(time.Now().Unix(), body, stripeSecret)
	statuses := make(chan int, 50)
	for range 50 {
		go func() {
			req, err := http.NewRequest(http.MethodPost, b.base+webhookPath("stripe", endpoint), strings.NewReader(body))
			if err != nil {
				statuses <- 0
				return
			}
			req.Header = header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range 50 {
		require.Equal(t, http.StatusOK, <-statuses)
	}
	require.Equal(t, 1, b.countRows(t, org, `SELECT count(*) FROM billing_events WHERE event_id = 'evt_many'`))
	require.Equal(t, 1, b.countRows(t, org, `SELECT count(*) FROM conversions WHERE external_id = 'in_many'`))
	require.Equal(t, 1, b.countRows(t, org, `SELECT count(*) FROM commissions c JOIN conversions v ON v.org_id = c.org_id AND v.id = c.conversion_id
		WHERE v.external_id = 'in_many'`), "one commission")
	require.Equal(t, 1, b.countRows(t, org, `SELECT count(*) FROM audit_log WHERE action = 'billing_event.received' AND target_id = 'evt_many'`))
	require.Equal(t, 1, b.countRows(t, org, `SELECT count(*) FROM audit_log
		WHERE action = 'conversion.sale_tracked' AND target_id IN (SELECT id::text FROM conversions WHERE external_id = 'in_many')`))
}
