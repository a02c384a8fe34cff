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
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/payout"
	"github.com/rekomi/rekomi/app/payout/stripemock"
	"github.com/rekomi/rekomi/app/server"
)

// stripeBundle is a server whose organizations pay through stripe-mock,
// behind a Filter, with every Stripe request recorded.
type stripeBundle struct {
	*bundle
	ring   *keyring.KeyRing
	rec    *stripemock.Recorder
	filter *stripemock.Filter
}

func newRing(t *testing.T) *keyring.KeyRing {
	t.Helper()
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	return ring
}

// stripeBuilder builds providers that talk to apiURL through rec.
func stripeBuilder(apiURL string, rec *stripemock.Recorder) server.StripeBuilder {
	return func(key string) (server.StripeConnector, error) {
		return payout.NewStripeConnect(payout.StripeOptions{SecretKey: key, APIURL: apiURL,
			HTTPClient: &http.Client{Transport: rec}, MaxNetworkRetries: stripe.Int64(0)})
	}
}

func setupStripe(t *testing.T, srv *dbtest.Server, mutate ...func(*config.Config)) *stripeBundle {
	t.Helper()
	ring := newRing(t)
	filter, apiURL := stripemock.StartFiltered(t)
	rec := &stripemock.Recorder{}
	b := setupWith(t, srv, []server.Option{server.WithKeyRing(ring), server.WithStripeConnect(stripeBuilder(apiURL, rec))}, mutate...)
	return &stripeBundle{bundle: b, ring: ring, rec: rec, filter: filter}
}

// sealStripeKey stores key as org's Stripe key, sealed with ring as the
// operator seals it; "" removes it.
func (b *bundle) sealStripeKey(t *testing.T, ring *keyring.KeyRing, org uuid.UUID, key string) {
	t.Helper()
	var sealed []byte
	if key != "" {
		var err error
		sealed, err = ring.Encrypt([]byte(key), payout.StripeKeyAAD(org))
		require.NoError(t, err)
	}
	dbtest.Exec(t, b.region.AdminURL, `UPDATE organizations SET stripe_secret_key_sealed = $2 WHERE id = $1`, org, sealed)
}

// authorizations lists the Authorization header of every Stripe request
// recorded, in order.
func (b *stripeBundle) authorizations() []string {
	var out []string
	for _, r := range b.rec.Requests() {
		out = append(out, r.Header.Get("Authorization"))
	}
	return out
}

// stripeTenant is an organization with its Stripe key, an affiliate with
// a connected account, and a EUR campaign.
type stripeTenant struct {
	shop
	stripeKey string
	affiliate uuid.UUID
	campaign  uuid.UUID
}

func (b *stripeBundle) seedStripeTenant(t *testing.T, name, key, account string) stripeTenant {
	t.Helper()
	tn := b.seedShop(t, name)
	b.sealStripeKey(t, b.ring, tn.ID, key)
	return stripeTenant{shop: tn, stripeKey: key, affiliate: b.seedAffiliate(t, tn.ID, &account),
		campaign: b.seedPayoutCampaign(t, tn.ID, "EUR", 0)}
}

// payOut creates a stripe_connect payout of one commission and dispatches
// it, returning the dispatch's answer.
func (b *stripeBundle) payOut(t *testing.T, st stripeTenant, out any) *http.Response {
	t.Helper()
	b.org(st.ID).Commission(t, st.affiliate, st.campaign, 700, "EUR", "approved", anHourAgo)
	var created payoutObject
	require.Equal(t, http.StatusCreated, b.createPayout(t, st.shop, payoutBody(st.affiliate, "EUR", "stripe_connect"), &created).StatusCode)
	return b.dispatch(t, st.shop, created.ID, out)
}

func (b *stripeBundle) patchAccount(t *testing.T, st stripeTenant, affiliate uuid.UUID, account string, out any) *http.Response {
	t.Helper()
	return b.call(t, http.MethodPatch, "/v1/affiliates/"+affiliate.String(), st.key, js,
		strings.NewReader(`{"stripe_account_id":"`+account+`"}`), out)
}

func (b *bundle) accountOf(t *testing.T, org, affiliate uuid.UUID) *string {
	t.Helper()
	ctx := context.Background()
	var account *string
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT stripe_account_id FROM affiliates WHERE id = $1`, affiliate).Scan(&account)
	}))
	return account
}

const (
	stripeKeyA = "sk_test_51TenantA00000000000000000000000000000000"
	stripeKeyB = "sk_test_51TenantB11111111111111111111111111111111"
)

func TestOrganizationStripeKeys(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	wide := func(c *config.Config) { c.MaxBodyBytes = 1 << 16 }

	t.Run("EachOrganizationPaysWithItsOwnKeyOnly", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, srv, wide)
		a := b.seedStripeTenant(t, "acme", stripeKeyA, "acct_OfA")
		o := b.seedStripeTenant(t, "globex", stripeKeyB, "acct_OfB")

		var paid payoutObject
		require.Equal(t, http.StatusOK, b.payOut(t, a, &paid).StatusCode)
		require.Equal(t, "paid", paid.Status)
		require.Equal(t, []string{"Bearer " + stripeKeyA}, b.authorizations(), "A's payout draws on A's key alone")

		require.Equal(t, http.StatusOK, b.payOut(t, o, &paid).StatusCode)
		require.Equal(t, "paid", paid.Status)
		require.Equal(t, []string{"Bearer " + stripeKeyA, "Bearer " + stripeKeyB}, b.authorizations(), "B's payout draws on B's key alone")
		reqs := b.rec.Requests()
		require.Equal(t, "acct_OfA", reqs[0].Form.Get("destination"))
		require.Equal(t, "acct_OfB", reqs[1].Form.Get("destination"))
	})

	t.Run("ANewKeyIsUsedAtTheNextDispatch", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, srv, wide)
		a := b.seedStripeTenant(t, "acme", stripeKeyA, "acct_OfA")
		require.Equal(t, http.StatusOK, b.payOut(t, a, nil).StatusCode)
		const rotated = "rk_test_51TenantARotated2222222222222222222222222"
		b.sealStripeKey(t, b.ring, a.ID, rotated)
		require.Equal(t, http.StatusOK, b.payOut(t, a, nil).StatusCode)
		require.Equal(t, []string{"Bearer " + stripeKeyA, "Bearer " + rotated}, b.authorizations())
	})

	t.Run("WithoutAKeyDispatchIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, srv, wide)
		a := b.seedStripeTenant(t, "acme", stripeKeyA, "acct_OfA")
		b.org(a.ID).Commission(t, a.affiliate, a.campaign, 700, "EUR", "approved", anHourAgo)
		var created payoutObject
		require.Equal(t, http.StatusCreated, b.createPayout(t, a.shop, payoutBody(a.affiliate, "EUR", "stripe_connect"), &created).StatusCode)
		b.sealStripeKey(t, b.ring, a.ID, "")

		var p server.Problem
		resp := b.dispatch(t, a.shop, created.ID, &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Equal(t, "urn:rekomi:problem:payout_provider_not_configured", p.Type)
		require.Contains(t, p.Detail, "the organization has no Stripe key")
		var got payoutObject
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts/"+created.ID.String(), a.key, "", nil, &got).StatusCode)
		require.Equal(t, "pending", got.Status, "the payout is left as it was")
		require.Empty(t, b.rec.Requests())
		require.Zero(t, b.org(a.ID).Audits(t, "payout.dispatched", created.ID))
	})

	t.Run("ConnectsOnlyAnAccountItsOwnKeySees", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, srv, wide)
		a := b.seedStripeTenant(t, "acme", stripeKeyA, "acct_OfA")
		o := b.seedStripeTenant(t, "globex", stripeKeyB, "acct_OfB")
		b.filter.Hide(stripeKeyA, "acct_OfB")

		var p server.Problem
		resp := b.patchAccount(t, a, a.affiliate, "acct_OfB", &p)
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "A cannot point its affiliate at an account its key does not see")
		require.Equal(t, "urn:rekomi:problem:validation_failed", p.Type)
		require.Equal(t, []ledger.FieldError{{Field: "stripe_account_id", Detail: "the account is not visible to the organization's Stripe key"}}, p.Errors)
		require.Equal(t, "acct_OfA", *b.accountOf(t, a.ID, a.affiliate), "nothing changed")
		require.Zero(t, b.org(a.ID).Audits(t, "affiliate.updated", a.affiliate))
		require.Equal(t, []string{"Bearer " + stripeKeyA}, b.authorizations(), "the account was looked up with A's key")
		require.Equal(t, "/v1/accounts/acct_OfB", b.rec.Requests()[0].Path)

		var patched map[string]any
		require.Equal(t, http.StatusOK, b.patchAccount(t, o, o.affiliate, "acct_OfB2", &patched).StatusCode, "B's key sees its own accounts")
		require.Equal(t, "acct_OfB2", patched["stripe_account_id"])
		require.Equal(t, "Bearer "+stripeKeyB, b.authorizations()[1])
	})

	t.Run("RefusesAnAccountThatCannotReceiveTransfers", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, srv, wide)
		a := b.seedStripeTenant(t, "acme", stripeKeyA, "acct_OfA")
		b.filter.EditAccount("acct_Restricted", func(acct map[string]any) {
			acct["capabilities"] = map[string]any{"transfers": "pending"}
		})
		var p server.Problem
		require.Equal(t, http.StatusUnprocessableEntity, b.patchAccount(t, a, a.affiliate, "acct_Restricted", &p).StatusCode)
		require.Len(t, p.Errors, 1)
		require.Equal(t, "stripe_account_id", p.Errors[0].Field)
		require.Contains(t, p.Errors[0].Detail, "cannot receive transfers")
		require.Equal(t, "acct_OfA", *b.accountOf(t, a.ID, a.affiliate))
	})

	t.Run("WithoutAKeyNoAccountCanBeConnected", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t, srv, wide)
		a := b.seedStripeTenant(t, "acme", stripeKeyA, "acct_OfA")
		b.sealStripeKey(t, b.ring, a.ID, "")
		var p server.Problem
		require.Equal(t, http.StatusUnprocessableEntity, b.patchAccount(t, a, a.affiliate, "acct_New", &p).StatusCode)
		require.Len(t, p.Errors, 1)
		require.Equal(t, "stripe_account_id", p.Errors[0].Field)
		require.Contains(t, p.Errors[0].Detail, "the organization has no Stripe key")
		require.Equal(t, "acct_OfA", *b.accountOf(t, a.ID, a.affiliate))
		require.Empty(t, b.rec.Requests())

		var patched map[string]any
		resp := b.call(t, http.MethodPatch, "/v1/affiliates/"+a.affiliate.String(), a.key, js, strings.NewReader(`{"stripe_account_id":null}`), &patched)
		require.Equal(t, http.StatusOK, resp.StatusCode, "an account can always be disconnected")
		require.Nil(t, patched["stripe_account_id"])
	})

	t.Run("WritesNothingWhenStripeCannotBeReached", func(t *testing.T) {
		t.Parallel()
		for name, status := range map[string]int{"unreachable": 0, "failing": http.StatusServiceUnavailable} {
			apiURL := "http://127.0.0.1:1"
			if status != 0 {
				failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"down"}}`))
				}))
				t.Cleanup(failing.Close)
				apiURL = failing.URL
			}
			ring := newRing(t)
			b := setupWith(t, srv, []server.Option{server.WithKeyRing(ring),
				server.WithStripeConnect(stripeBuilder(apiURL, &stripemock.Recorder{}))}, wide)
			tn := b.seedShop(t, "acme")
			b.sealStripeKey(t, ring, tn.ID, stripeKeyA)
			aff := b.seedAffiliate(t, tn.ID, nil)
			var p server.Problem
			resp := b.call(t, http.MethodPatch, "/v1/affiliates/"+aff.String(), tn.key, js, strings.NewReader(`{"stripe_account_id":"acct_New"}`), &p)
			require.Equal(t, http.StatusBadGateway, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:payout_provider_unavailable", p.Type, name)
			require.Equal(t, "30", resp.Header.Get("Retry-After"), name)
			require.Nil(t, b.accountOf(t, tn.ID, aff), name)
			require.NotContains(t, b.logs.String(), stripeKeyA[len("sk_test_"):], "%s: the key is not logged", name)
		}
	})
}
