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
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/payout"
	"github.com/rekomi/rekomi/app/server"
)

type payoutItem struct {
	CommissionID uuid.UUID `json:"commission_id"`
	Amount       int64     `json:"amount"`
}

type payoutObject struct {
	Object        string       `json:"object"`
	ID            uuid.UUID    `json:"id"`
	AffiliateID   uuid.UUID    `json:"affiliate_id"`
	Amount        int64        `json:"amount"`
	Currency      string       `json:"currency"`
	Provider      string       `json:"provider"`
	Status        string       `json:"status"`
	ProviderRef   *string      `json:"provider_ref"`
	FailureReason *string      `json:"failure_reason"`
	Items         []payoutItem `json:"items"`
	Deductions    []payoutItem `json:"deductions"`
	DispatchedAt  *time.Time   `json:"dispatched_at"`
}

type payoutList struct {
	Data    []payoutObject `json:"data"`
	HasMore bool           `json:"has_more"`
}

// fakeProvider answers each transfer with the next of its outcomes (nil is
// success), then succeeds; it records every transfer.
type fakeProvider struct {
	name     string
	mu       sync.Mutex
	outcomes []error
	calls    []payout.Transfer
}

func (f *fakeProvider) Name() string { return f.name }

func (f *fakeProvider) Transfer(_ context.Context, t payout.Transfer) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, t)
	if len(f.outcomes) > 0 {
		err := f.outcomes[0]
		f.outcomes = f.outcomes[1:]
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("fake_%d", len(f.calls)), nil
}

// CheckAccount accepts every account.
func (f *fakeProvider) CheckAccount(context.Context, string) error { return nil }

func (f *fakeProvider) transfers() []payout.Transfer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]payout.Transfer(nil), f.calls...)
}

func (b *bundle) seedAffiliate(t *testing.T, org uuid.UUID, stripeAccount *string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	b.org(org).Exec(t, nil, `INSERT INTO affiliates (org_id, id, email, status, stripe_account_id) VALUES ($1, $2, $3, 'active', $4)`,
		org, id, id.String()+"@example.com", stripeAccount)
	return id
}

// connectedAccount is the Stripe connected account of connectedAffiliate's
// affiliate.
const connectedAccount = "acct_123"

// connectedAffiliate starts a server whose organizations pay through
// provider and seeds the organization acme, with a Stripe key, an affiliate
// whose connected account is connectedAccount and a EUR campaign with no
// minimum payout.
func connectedAffiliate(t *testing.T, srv *dbtest.Server, provider server.StripeConnector, mutate func(*config.Config)) (b *bundle, tn shop, aff, campaign uuid.UUID) {
	t.Helper()
	ring := newRing(t)
	b = setupWith(t, srv, []server.Option{server.WithKeyRing(ring),
		server.WithStripeConnect(func(string) (server.StripeConnector, error) { return provider, nil })}, mutate)
	tn = b.seedShop(t, "acme")
	b.sealStripeKey(t, ring, tn.ID, "sk_test_acme")
	account := connectedAccount
	aff = b.seedAffiliate(t, tn.ID, &account)
	return b, tn, aff, b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
}

func (b *bundle) seedPayoutCampaign(t *testing.T, org uuid.UUID, currency string, minPayout int64) uuid.UUID {
	t.Helper()
	id := uuid.New()
	b.org(org).Exec(t, nil, `INSERT INTO campaigns (org_id, id, name, currency, commission_type, commission_bps, min_payout_amount)
		VALUES ($1, $2, $3, $4, 'percentage', 2000, $5)`, org, id, "c-"+id.String(), currency, minPayout)
	return id
}

// seedCommission writes a customer, a sale and its commission in status
// (approved, pending or paid), due to be approved at approveAfter.
type commissionState struct {
	Status     string
	PayoutID   *uuid.UUID
	ApprovedAt *time.Time
	PaidAt     *time.Time
}

func (b *bundle) commission(t *testing.T, org, id uuid.UUID) commissionState {
	t.Helper()
	ctx := context.Background()
	var c commissionState
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT status, payout_id, approved_at, paid_at FROM commissions WHERE id = $1`, id).
			Scan(&c.Status, &c.PayoutID, &c.ApprovedAt, &c.PaidAt)
	}))
	return c
}

func (b *bundle) countRows(t *testing.T, org uuid.UUID, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	var n int
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error { return tx.QueryRow(ctx, sql, args...).Scan(&n) }))
	return n
}

func payoutBody(affiliate uuid.UUID, currency, provider string) string {
	return `{"affiliate_id":"` + affiliate.String() + `","currency":"` + currency + `","provider":"` + provider + `"}`
}

func (b *bundle) createPayout(t *testing.T, tn shop, body string, out any) *http.Response {
	t.Helper()
	return b.call(t, http.MethodPost, "/v1/payouts", tn.key, js, strings.NewReader(body), out)
}

func (b *bundle) dispatch(t *testing.T, tn shop, id uuid.UUID, out any) *http.Response {
	t.Helper()
	return b.call(t, http.MethodPost, "/v1/payouts/"+id.String()+"/dispatch", tn.key, "", nil, out)
}

func itemIDs(p payoutObject) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(p.Items))
	for _, it := range p.Items {
		out = append(out, it.CommissionID)
	}
	return out
}

var (
	anHourAgo = time.Now().Add(-time.Hour)
	inAMonth  = time.Now().Add(30 * 24 * time.Hour)
)

func TestPayouts(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	wide := func(c *config.Config) { c.MaxBodyBytes = 1 << 16 }

	t.Run("ManualPayoutTakesDueCommissionsOfItsCurrencyAndIsPaidOnDispatch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		eur := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		usd := b.seedPayoutCampaign(t, tn.ID, "USD", 0)
		approved := b.org(tn.ID).Commission(t, aff, eur, 1000, "EUR", "approved", anHourAgo)
		due := b.org(tn.ID).Commission(t, aff, eur, 250, "EUR", "pending", anHourAgo)
		held := b.org(tn.ID).Commission(t, aff, eur, 700, "EUR", "pending", inAMonth)
		dollars := b.org(tn.ID).Commission(t, aff, usd, 900, "USD", "approved", anHourAgo)

		var created payoutObject
		resp := b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &created)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Equal(t, "payout", created.Object)
		require.Equal(t, "pending", created.Status)
		require.EqualValues(t, 1250, created.Amount)
		require.Equal(t, "EUR", created.Currency)
		require.Equal(t, aff, created.AffiliateID)
		require.ElementsMatch(t, []uuid.UUID{approved, due}, itemIDs(created))
		require.Nil(t, created.ProviderRef)
		require.Nil(t, created.DispatchedAt)

		c := b.commission(t, tn.ID, due)
		require.Equal(t, "approved", c.Status, "a pending commission past its hold is approved first")
		require.NotNil(t, c.ApprovedAt)
		require.Equal(t, created.ID, *c.PayoutID)
		require.Equal(t, "pending", b.commission(t, tn.ID, held).Status, "a commission on hold is left")
		require.Nil(t, b.commission(t, tn.ID, held).PayoutID)
		require.Nil(t, b.commission(t, tn.ID, dollars).PayoutID, "another currency is left")
		b.requireAudit(t, tn.ID, "payout.created", created.ID)
		b.requireAuditMetadata(t, tn.ID, "payout.created", created.ID,
			`{"amount":1250,"currency":"EUR","commission_count":2,"deduction_count":0,"provider":"manual","affiliate_id":"`+aff.String()+`"}`)

		var got payoutObject
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts/"+created.ID.String(), tn.key, "", nil, &got).StatusCode)
		require.Equal(t, created, got)

		var paid payoutObject
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, created.ID, &paid).StatusCode)
		require.Equal(t, "paid", paid.Status)
		require.Equal(t, payout.ManualRef, *paid.ProviderRef)
		require.NotNil(t, paid.DispatchedAt)
		require.Len(t, paid.Items, 2)
		for _, id := range []uuid.UUID{approved, due} {
			c := b.commission(t, tn.ID, id)
			require.Equal(t, "paid", c.Status)
			require.NotNil(t, c.PaidAt)
		}
		b.requireAudit(t, tn.ID, "payout.dispatched", created.ID)
		b.requireAudit(t, tn.ID, "payout.paid", created.ID)

		var p server.Problem
		resp = b.dispatch(t, tn, created.ID, &p)
		require.Equal(t, http.StatusConflict, resp.StatusCode, "a paid payout is not dispatched again")
		require.Equal(t, "urn:rekomi:problem:conflict", p.Type)
		b.requireAudit(t, tn.ID, "payout.paid", created.ID)

		var dollarPayout payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "USD", "manual"), &dollarPayout).StatusCode)
		require.Equal(t, []uuid.UUID{dollars}, itemIDs(dollarPayout), "only that currency's commissions")
		require.EqualValues(t, 900, dollarPayout.Amount)

		var list payoutList
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts", tn.key, "", nil, &list).StatusCode)
		require.Len(t, list.Data, 2)
		require.Equal(t, dollarPayout.ID, list.Data[0].ID, "newest first")
		require.Nil(t, list.Data[0].Items, "lists leave items out")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts?status=paid&affiliate_id="+aff.String(), tn.key, "", nil, &list).StatusCode)
		require.Len(t, list.Data, 1)
		require.Equal(t, created.ID, list.Data[0].ID)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts?affiliate_id="+uuid.NewString(), tn.key, "", nil, &list).StatusCode)
		require.Empty(t, list.Data)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts?limit=1", tn.key, "", nil, &list).StatusCode)
		require.True(t, list.HasMore)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts?limit=1&starting_after="+list.Data[0].ID.String(), tn.key, "", nil, &list).StatusCode)
		require.False(t, list.HasMore)
		require.Equal(t, created.ID, list.Data[0].ID)
	})

	t.Run("StripeConnectPayoutTransfersThroughStripeMock", func(t *testing.T) {
		t.Parallel()
		h := setupStripe(t, srv, wide)
		tn := h.seedShop(t, "acme")
		h.sealStripeKey(t, h.ring, tn.ID, "sk_test_acme")
		account := "acct_1032D82eZvKYlo2C"
		aff := h.seedAffiliate(t, tn.ID, &account)
		campaign := h.seedPayoutCampaign(t, tn.ID, "EUR", 1000)
		h.org(tn.ID).Commission(t, aff, campaign, 600, "EUR", "approved", anHourAgo)
		h.org(tn.ID).Commission(t, aff, campaign, 400, "EUR", "approved", anHourAgo)

		var created payoutObject
		require.Equal(t, http.StatusCreated, h.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &created).StatusCode)
		require.EqualValues(t, 1000, created.Amount, "exactly the minimum is enough")
		require.Equal(t, "stripe_connect", created.Provider)

		var paid payoutObject
		require.Equal(t, http.StatusOK, h.dispatch(t, tn, created.ID, &paid).StatusCode)
		require.Equal(t, "paid", paid.Status)
		require.Regexp(t, "^tr_", *paid.ProviderRef)

		reqs := h.rec.Requests()
		require.Len(t, reqs, 1)
		require.Equal(t, "/v1/transfers", reqs[0].Path)
		require.Equal(t, "Bearer sk_test_acme", reqs[0].Header.Get("Authorization"), "the organization's own key")
		require.Equal(t, created.ID.String(), reqs[0].Header.Get("Idempotency-Key"))
		require.Equal(t, "1000", reqs[0].Form.Get("amount"))
		require.Equal(t, "eur", reqs[0].Form.Get("currency"))
		require.Equal(t, account, reqs[0].Form.Get("destination"))
		require.Equal(t, created.ID.String(), reqs[0].Form.Get("metadata[payout_id]"))
		h.requireAuditMetadata(t, tn.ID, "payout.dispatched", created.ID,
			`{"provider":"stripe_connect","amount":1000,"currency":"EUR","destination":"acct_…lo2C"}`)
		h.requireAudit(t, tn.ID, "payout.paid", created.ID)
		h.requireAuditMetadata(t, tn.ID, "payout.paid", created.ID, `{"provider_ref":"`+*paid.ProviderRef+`"}`)
	})

	t.Run("RefusesPayoutsBelowTheMinimum", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		low := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		high := b.seedPayoutCampaign(t, tn.ID, "EUR", 3000)

		var p server.Problem
		resp := b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "nothing to pay")
		require.Equal(t, "urn:rekomi:problem:below_minimum_payout", p.Type)
		require.Contains(t, p.Detail, "no approved EUR commissions")

		b.org(tn.ID).Commission(t, aff, low, 1500, "EUR", "approved", anHourAgo)
		b.org(tn.ID).Commission(t, aff, high, 1000, "EUR", "approved", anHourAgo)
		due := b.org(tn.ID).Commission(t, aff, high, 100, "EUR", "pending", anHourAgo)
		resp = b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "urn:rekomi:problem:below_minimum_payout", p.Type)
		require.Contains(t, p.Detail, "2600 EUR is payable; the minimum is 3000 EUR", "the highest minimum of the campaigns involved")
		require.Zero(t, b.countRows(t, tn.ID, `SELECT count(*) FROM payouts`))
		require.Equal(t, "pending", b.commission(t, tn.ID, due).Status, "a refused payout changes nothing")
		require.Zero(t, b.countRows(t, tn.ID, `SELECT count(*) FROM audit_log WHERE action LIKE 'payout.%'`))

		b.org(tn.ID).Commission(t, aff, low, 400, "EUR", "approved", anHourAgo)
		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &created).StatusCode)
		require.EqualValues(t, 3000, created.Amount)
	})

	t.Run("StripeConnectNeedsAConnectedAccountAndAStripeKey", func(t *testing.T) {
		t.Parallel()
		fake := &fakeProvider{name: payout.NameStripeConnect}
		b, tn, _, campaign := connectedAffiliate(t, srv, fake, wide)
		aff := b.seedAffiliate(t, tn.ID, nil)
		b.org(tn.ID).Commission(t, aff, campaign, 1000, "EUR", "approved", anHourAgo)
		var p server.Problem
		resp := b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "provider", p.Errors[0].Field)
		require.Contains(t, p.Errors[0].Detail, "no Stripe connected account")

		other := b.seedShop(t, "globex")
		account := connectedAccount
		aff = b.seedAffiliate(t, other.ID, &account)
		resp = b.createPayout(t, other, payoutBody(aff, "EUR", "stripe_connect"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "provider", p.Errors[0].Field)
		require.Contains(t, p.Errors[0].Detail, "the organization has no Stripe key")
		require.Empty(t, fake.transfers())
	})

	t.Run("ConcurrentPayoutsNeverTakeACommissionTwice", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		campaign := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		for range 5 {
			b.org(tn.ID).Commission(t, aff, campaign, 100, "EUR", "approved", anHourAgo)
		}
		const n = 4
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				statuses[i] = b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), nil).StatusCode
			})
		}
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusCreated, http.StatusUnprocessableEntity, http.StatusUnprocessableEntity,
			http.StatusUnprocessableEntity}, statuses)
		require.Equal(t, 1, b.countRows(t, tn.ID, `SELECT count(*) FROM payouts`))
		require.Equal(t, 5, b.countRows(t, tn.ID, `SELECT count(*) FROM payout_items`))
		require.Equal(t, 5, b.countRows(t, tn.ID, `SELECT count(*) FROM commissions WHERE payout_id IS NOT NULL`))
	})

	t.Run("ADefinitiveFailureFailsThePayoutAndReleasesItsCommissions", func(t *testing.T) {
		t.Parallel()
		fake := &fakeProvider{name: payout.NameStripeConnect, outcomes: []error{payout.Definitive("insufficient funds in the platform balance", nil)}}
		b, tn, aff, campaign := connectedAffiliate(t, srv, fake, wide)
		first := b.org(tn.ID).Commission(t, aff, campaign, 800, "EUR", "approved", anHourAgo)

		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &created).StatusCode)
		var failed payoutObject
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, created.ID, &failed).StatusCode)
		require.Equal(t, "failed", failed.Status)
		require.Equal(t, "insufficient funds in the platform balance", *failed.FailureReason)
		require.Nil(t, failed.ProviderRef)
		require.Equal(t, []uuid.UUID{first}, itemIDs(failed), "the items stay as the record of the attempt")
		c := b.commission(t, tn.ID, first)
		require.Equal(t, "approved", c.Status)
		require.Nil(t, c.PayoutID, "released for a later payout")
		require.Equal(t, []payout.Transfer{{PayoutID: created.ID, Amount: 800, Currency: "EUR", Destination: connectedAccount}}, fake.transfers())
		b.requireAudit(t, tn.ID, "payout.dispatched", created.ID)
		b.requireAudit(t, tn.ID, "payout.failed", created.ID)
		b.requireAuditMetadata(t, tn.ID, "payout.failed", created.ID,
			`{"failure_reason":"insufficient funds in the platform balance","commissions_released":1}`)

		var p server.Problem
		require.Equal(t, http.StatusConflict, b.dispatch(t, tn, created.ID, &p).StatusCode, "a failed payout is final")

		second := b.org(tn.ID).Commission(t, aff, campaign, 200, "EUR", "approved", anHourAgo)
		var retry payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &retry).StatusCode)
		require.ElementsMatch(t, []uuid.UUID{first, second}, itemIDs(retry), "a released commission is paid by a new payout")
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, retry.ID, &retry).StatusCode)
		require.Equal(t, "paid", retry.Status)
		require.Equal(t, "paid", b.commission(t, tn.ID, first).Status)
	})

	t.Run("DeductsClawbacksOnceUnlessThePayoutFails", func(t *testing.T) {
		t.Parallel()
		fake := &fakeProvider{name: payout.NameStripeConnect, outcomes: []error{payout.Definitive("account closed", nil)}}
		b, tn, aff, campaign := connectedAffiliate(t, srv, fake, wide)
		other := b.seedShop(t, "globex")
		clawed := b.org(tn.ID).Commission(t, aff, campaign, 300, "EUR", "paid", anHourAgo)
		b.org(tn.ID).Exec(t, nil, `INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
			VALUES ($1, $2, $3, -300, 'EUR', 'refunded')`, tn.ID, clawed, aff)
		dollars := b.org(tn.ID).Commission(t, aff, campaign, 50, "USD", "paid", anHourAgo)
		b.org(tn.ID).Exec(t, nil, `INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
			VALUES ($1, $2, $3, -50, 'USD', 'disputed')`, tn.ID, dollars, aff)
		// Another organization's clawback for an affiliate of its own changes nothing here.
		otherAff := b.seedAffiliate(t, other.ID, nil)
		otherPaid := b.org(other.ID).Commission(t, otherAff, b.seedPayoutCampaign(t, other.ID, "EUR", 0), 900, "EUR", "paid", anHourAgo)
		b.org(other.ID).Exec(t, nil, `INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
			VALUES ($1, $2, $3, -900, 'EUR', 'refunded')`, other.ID, otherPaid, otherAff)

		small := b.org(tn.ID).Commission(t, aff, campaign, 200, "EUR", "approved", anHourAgo)
		var p server.Problem
		resp := b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "200 earned less 300 owed pays nothing")
		require.Equal(t, "urn:rekomi:problem:below_minimum_payout", p.Type)
		require.Contains(t, p.Detail, "less 300 EUR of clawbacks")

		big := b.org(tn.ID).Commission(t, aff, campaign, 1000, "EUR", "approved", anHourAgo)
		var first payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &first).StatusCode)
		require.EqualValues(t, 900, first.Amount, "1200 earned less the 300 EUR clawback; the USD one waits for a USD payout")
		require.ElementsMatch(t, []uuid.UUID{small, big}, itemIDs(first))
		require.Equal(t, []payoutItem{{CommissionID: clawed, Amount: -300}}, first.Deductions)
		b.requireAuditMetadata(t, tn.ID, "payout.created", first.ID,
			`{"amount": 900, "currency": "EUR", "provider": "stripe_connect", "affiliate_id": "`+aff.String()+`", "commission_count": 2, "deduction_count": 1}`)

		var failed payoutObject
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, first.ID, &failed).StatusCode)
		require.Equal(t, "failed", failed.Status)
		var again payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &again).StatusCode)
		require.EqualValues(t, 900, again.Amount, "a failed payout gives its deduction back")
		require.Equal(t, []payoutItem{{CommissionID: clawed, Amount: -300}}, again.Deductions)
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, again.ID, &again).StatusCode)
		require.Equal(t, "paid", again.Status)
		require.Equal(t, []payout.Transfer{
			{PayoutID: first.ID, Amount: 900, Currency: "EUR", Destination: connectedAccount},
			{PayoutID: again.ID, Amount: 900, Currency: "EUR", Destination: connectedAccount},
		}, fake.transfers())

		b.org(tn.ID).Commission(t, aff, campaign, 400, "EUR", "approved", anHourAgo)
		var later payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &later).StatusCode)
		require.EqualValues(t, 400, later.Amount, "a settled clawback is deducted once")
		require.Empty(t, later.Deductions)
	})

	// A paid commission's dispute, won after its clawback was settled,
	// gives the clawback back: a payout pays it though no commission is
	// due beside it.
	t.Run("PaysWhatADisputeWonGaveBackWithNoCommissionBeside", func(t *testing.T) {
		t.Parallel()
		fake := &fakeProvider{name: payout.NameStripeConnect}
		b, tn, aff, campaign := connectedAffiliate(t, srv, fake, wide)
		disputed := b.org(tn.ID).Commission(t, aff, campaign, 300, "EUR", "paid", anHourAgo)
		var p server.Problem
		resp := b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "nothing is due")
		b.org(tn.ID).Exec(t, nil, `INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
			VALUES ($1, $2, $3, 300, 'EUR', 'dispute_won')`, tn.ID, disputed, aff)
		var given payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &given).StatusCode)
		require.EqualValues(t, 300, given.Amount)
		require.Empty(t, itemIDs(given))
		require.Equal(t, []payoutItem{{CommissionID: disputed, Amount: 300}}, given.Deductions)
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, given.ID, &given).StatusCode)
		require.Equal(t, "paid", given.Status)
		resp = b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "given back once")

		// Alone, what a dispute won gave back is held to its commission's
		// campaign's minimum; beside a commission due, to that
		// commission's campaign's only.
		strict := b.seedPayoutCampaign(t, tn.ID, "EUR", 10000)
		won := b.org(tn.ID).Commission(t, aff, strict, 300, "EUR", "paid", anHourAgo)
		b.org(tn.ID).Exec(t, nil, `INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
			VALUES ($1, $2, $3, 300, 'EUR', 'dispute_won')`, tn.ID, won, aff)
		resp = b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "300 alone is below its campaign's minimum of 10000")
		require.Equal(t, "urn:rekomi:problem:below_minimum_payout", p.Type)
		due := b.org(tn.ID).Commission(t, aff, b.seedPayoutCampaign(t, tn.ID, "EUR", 1000), 5000, "EUR", "approved", anHourAgo)
		var both payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &both).StatusCode)
		require.EqualValues(t, 5300, both.Amount)
		require.Equal(t, []uuid.UUID{due}, itemIDs(both))
	})

	t.Run("ATransientFailureKeepsThePayoutDispatchedUntilARetry", func(t *testing.T) {
		t.Parallel()
		fake := &fakeProvider{name: payout.NameStripeConnect, outcomes: []error{
			payout.Transient("Stripe answered 503", nil), fmt.Errorf("an unclassified error counts as transient"),
		}}
		b, tn, aff, campaign := connectedAffiliate(t, srv, fake, wide)
		held := b.org(tn.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)
		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &created).StatusCode)

		for range 2 {
			var p server.Problem
			resp := b.dispatch(t, tn, created.ID, &p)
			require.Equal(t, http.StatusBadGateway, resp.StatusCode)
			require.Equal(t, "urn:rekomi:problem:payout_provider_unavailable", p.Type)
			require.Contains(t, p.Detail, "dispatch it again")
			require.Equal(t, "30", resp.Header.Get("Retry-After"))
			var got payoutObject
			b.call(t, http.MethodGet, "/v1/payouts/"+created.ID.String(), tn.key, "", nil, &got)
			require.Equal(t, "dispatched", got.Status)
			require.Equal(t, created.ID, *b.commission(t, tn.ID, held).PayoutID, "still held by the payout")
		}
		var paid payoutObject
		require.Equal(t, http.StatusOK, b.dispatch(t, tn, created.ID, &paid).StatusCode)
		require.Equal(t, "paid", paid.Status)
		require.Equal(t, "fake_3", *paid.ProviderRef)
		calls := fake.transfers()
		require.Len(t, calls, 3)
		for _, c := range calls {
			require.Equal(t, created.ID, c.PayoutID, "every retry carries the same idempotency key")
		}
		b.requireAudit(t, tn.ID, "payout.dispatched", created.ID)
		b.requireAudit(t, tn.ID, "payout.paid", created.ID)
		require.Contains(t, b.logs.String(), "Payout provider failed")
	})

	t.Run("ConcurrentDispatchesPayOnce", func(t *testing.T) {
		t.Parallel()
		fake := &fakeProvider{name: payout.NameStripeConnect}
		b, tn, aff, campaign := connectedAffiliate(t, srv, fake, wide)
		b.org(tn.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)
		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &created).StatusCode)

		const n = 4
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { statuses[i] = b.dispatch(t, tn, created.ID, nil).StatusCode })
		}
		wg.Wait()
		require.Contains(t, statuses, http.StatusOK)
		for _, st := range statuses {
			require.Contains(t, []int{http.StatusOK, http.StatusConflict}, st, "a late dispatch finds it paid")
		}
		for _, c := range fake.transfers() {
			require.Equal(t, created.ID, c.PayoutID, "a dispatch that overlaps another sends the same idempotency key")
		}
		b.requireAudit(t, tn.ID, "payout.dispatched", created.ID)
		b.requireAudit(t, tn.ID, "payout.paid", created.ID)
	})

	t.Run("IdempotencyKeysReplayCreatesAndDispatches", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		campaign := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		b.org(tn.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)

		first := b.post(t, "/v1/payouts", tn.key, "create-1", payoutBody(aff, "EUR", "manual"))
		require.Equal(t, http.StatusCreated, first.status)
		again := b.post(t, "/v1/payouts", tn.key, "create-1", payoutBody(aff, "EUR", "manual"))
		require.Equal(t, first.status, again.status)
		require.Equal(t, first.body, again.body)
		require.Equal(t, "true", again.header.Get(server.IdempotentReplayedHeader))
		require.Equal(t, 1, b.countRows(t, tn.ID, `SELECT count(*) FROM payouts`))

		var created payoutObject
		require.NoError(t, json.Unmarshal([]byte(first.body), &created))
		path := "/v1/payouts/" + created.ID.String() + "/dispatch"
		d1 := b.post(t, path, tn.key, "dispatch-1", "")
		require.Equal(t, http.StatusOK, d1.status, d1.body)
		d2 := b.post(t, path, tn.key, "dispatch-1", "")
		require.Equal(t, http.StatusOK, d2.status, "replayed, not a 409")
		require.Equal(t, d1.body, d2.body)
		require.Equal(t, "true", d2.header.Get(server.IdempotentReplayedHeader))
		require.Equal(t, http.StatusConflict, b.post(t, path, tn.key, "dispatch-2", "").status)
		b.requireAudit(t, tn.ID, "payout.paid", created.ID)
	})

	t.Run("RefusesBadInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		cases := map[string]struct {
			body   string
			status int
			fields []string
		}{
			"an unknown field":      {`{"affiliate_id":"` + aff.String() + `","currency":"EUR","provider":"manual","amount":5}`, 400, nil},
			"a wrong type":          {`{"affiliate_id":"` + aff.String() + `","currency":978,"provider":"manual"}`, 400, nil},
			"missing fields":        {`{}`, 422, []string{"affiliate_id", "currency", "provider"}},
			"an unknown currency":   {payoutBody(aff, "XXX", "manual"), 422, []string{"currency"}},
			"a lower-case currency": {payoutBody(aff, "eur", "manual"), 422, []string{"currency"}},
			"an unknown provider":   {payoutBody(aff, "EUR", "paypal"), 422, []string{"provider"}},
			"a malformed affiliate": {`{"affiliate_id":"nope","currency":"EUR","provider":"manual"}`, 422, []string{"affiliate_id"}},
			"an unknown affiliate":  {payoutBody(uuid.New(), "EUR", "manual"), 422, []string{"affiliate_id"}},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				var p server.Problem
				resp := b.createPayout(t, tn, tc.body, &p)
				require.Equal(t, tc.status, resp.StatusCode, "%+v", p)
				var fields []string
				for _, e := range p.Errors {
					fields = append(fields, e.Field)
				}
				require.Equal(t, tc.fields, fields)
			})
		}
		for _, q := range []string{"status=sent", "affiliate_id=nope", "limit=0"} {
			var p server.Problem
			require.Equal(t, http.StatusBadRequest, b.call(t, http.MethodGet, "/v1/payouts?"+q, tn.key, "", nil, &p).StatusCode, q)
			require.Equal(t, "urn:rekomi:problem:invalid_request", p.Type)
		}
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodGet, "/v1/payouts/nope", tn.key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodPost, "/v1/payouts/"+uuid.NewString()+"/dispatch", tn.key, "", nil, nil).StatusCode)
	})

	t.Run("OtherOrganizationsPayoutsAreNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		a, other := b.seedShop(t, "acme"), b.seedShop(t, "globex")
		aff := b.seedAffiliate(t, a.ID, nil)
		campaign := b.seedPayoutCampaign(t, a.ID, "EUR", 0)
		b.org(a.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)
		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, a, payoutBody(aff, "EUR", "manual"), &created).StatusCode)

		path := "/v1/payouts/" + created.ID.String()
		require.Equal(t, http.StatusNotFound, b.call(t, http.MethodGet, path, other.key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.dispatch(t, other, created.ID, nil).StatusCode)
		var list payoutList
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts?affiliate_id="+aff.String(), other.key, "", nil, &list).StatusCode)
		require.Empty(t, list.Data)
		var p server.Problem
		require.Equal(t, http.StatusUnprocessableEntity, b.createPayout(t, other, payoutBody(aff, "EUR", "manual"), &p).StatusCode)
		require.Equal(t, "affiliate_id", p.Errors[0].Field, "another organization's affiliate is no affiliate")

		var got payoutObject
		b.call(t, http.MethodGet, path, a.key, "", nil, &got)
		require.Equal(t, "pending", got.Status, "untouched by the other organization")
		require.Zero(t, b.countRows(t, other.ID, `SELECT count(*) FROM audit_log`))
	})

	t.Run("CancelledOrganizationsCanReadButNotPay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		campaign := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		b.org(tn.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)
		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &created).StatusCode)
		b.org(tn.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)
		b.cancelOrg(t, tn.ID)

		var p server.Problem
		require.Equal(t, http.StatusForbidden, b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &p).StatusCode)
		require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		require.Equal(t, http.StatusForbidden, b.dispatch(t, tn, created.ID, &p).StatusCode)
		require.Equal(t, "urn:rekomi:problem:organization_cancelled", p.Type)
		var got payoutObject
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts/"+created.ID.String(), tn.key, "", nil, &got).StatusCode)
		require.Equal(t, "pending", got.Status)
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts", tn.key, "", nil, nil).StatusCode)
	})

	t.Run("AnswersFitTheOpenAPISchemas", func(t *testing.T) {
		t.Parallel()
		_, doc := loadOpenAPI(t)
		fake := &fakeProvider{name: payout.NameStripeConnect, outcomes: []error{payout.Transient("Stripe answered 503", nil)}}
		b, tn, aff, campaign := connectedAffiliate(t, srv, fake, wide)
		b.org(tn.ID).Commission(t, aff, campaign, 500, "EUR", "approved", anHourAgo)
		check := func(method, path, status, mediaType string, resp *http.Response, body any) {
			t.Helper()
			require.Equal(t, status, fmt.Sprint(resp.StatusCode), "%s %s", method, path)
			schema := responseSchema(t, doc, method, path, status, mediaType)
			require.Empty(t, schemaMismatches(t, doc, schema, body, method+" "+path), "the answer does not fit the schema")
		}
		const problemJSON = "application/problem+json"
		var v any
		resp := b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &v)
		check("post", "/v1/payouts", "201", js, resp, v)
		id := v.(map[string]any)["id"].(string)

		v = nil
		resp = b.createPayout(t, tn, payoutBody(aff, "EUR", "stripe_connect"), &v)
		check("post", "/v1/payouts", "422", problemJSON, resp, v)

		v = nil
		resp = b.call(t, http.MethodPost, "/v1/payouts/"+id+"/dispatch", tn.key, "", nil, &v)
		check("post", "/v1/payouts/{id}/dispatch", "502", problemJSON, resp, v)

		v = nil
		resp = b.call(t, http.MethodPost, "/v1/payouts/"+id+"/dispatch", tn.key, "", nil, &v)
		check("post", "/v1/payouts/{id}/dispatch", "200", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodPost, "/v1/payouts/"+id+"/dispatch", tn.key, "", nil, &v)
		check("post", "/v1/payouts/{id}/dispatch", "409", problemJSON, resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/payouts/"+id, tn.key, "", nil, &v)
		check("get", "/v1/payouts/{id}", "200", js, resp, v)

		v = nil
		resp = b.call(t, http.MethodGet, "/v1/payouts", tn.key, "", nil, &v)
		check("get", "/v1/payouts", "200", js, resp, v)
		require.Len(t, v.(map[string]any)["data"], 1)
	})
}
