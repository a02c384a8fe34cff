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

package payout_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/rekomi/rekomi/app/payout"
	"github.com/rekomi/rekomi/app/payout/stripemock"
)

func newStripe(t *testing.T, apiURL string, rec *stripemock.Recorder) *payout.StripeConnect {
	t.Helper()
	p, err := payout.NewStripeConnect(payout.StripeOptions{SecretKey: "sk_test_123", APIURL: apiURL,
		HTTPClient: &http.Client{Transport: rec}, MaxNetworkRetries: stripe.Int64(0)})
	require.NoError(t, err)
	return p
}

func TestStripeConnect(t *testing.T) {
	t.Parallel()
	mock := stripemock.Start(t)

	t.Run("TransfersToTheConnectedAccountWithThePayoutAsIdempotencyKey", func(t *testing.T) {
		t.Parallel()
		rec := &stripemock.Recorder{}
		p := newStripe(t, mock, rec)
		id := uuid.New()
		ref, err := p.Transfer(context.Background(), payout.Transfer{PayoutID: id, Amount: 12345, Currency: "EUR", Destination: "acct_1032D82eZvKYlo2C"})
		require.NoError(t, err)
		require.Regexp(t, "^tr_", ref)
		require.Equal(t, payout.NameStripeConnect, p.Name())

		reqs := rec.Requests()
		require.Len(t, reqs, 1)
		r := reqs[0]
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "/v1/transfers", r.Path)
		require.Equal(t, id.String(), r.Header.Get("Idempotency-Key"))
		require.Equal(t, "Bearer sk_test_123", r.Header.Get("Authorization"))
		require.Equal(t, "12345", r.Form.Get("amount"))
		require.Equal(t, "eur", r.Form.Get("currency"), "Stripe takes lower-case currencies")
		require.Equal(t, "acct_1032D82eZvKYlo2C", r.Form.Get("destination"))
		require.Equal(t, id.String(), r.Form.Get("metadata[payout_id]"))
	})

	t.Run("StripeMockRefusesAMissingCurrencyAndTheRefusalIsDefinitive", func(t *testing.T) {
		t.Parallel()
		rec := &stripemock.Recorder{Edit: func(f url.Values) { f.Del("currency") }}
		p := newStripe(t, mock, rec)
		_, err := p.Transfer(context.Background(), payout.Transfer{PayoutID: uuid.New(), Amount: 100, Currency: "USD", Destination: "acct_123"})
		reason, definitive := payout.IsDefinitive(err)
		require.True(t, definitive, "%v", err)
		require.Contains(t, reason, "Stripe answered 400")
		require.Contains(t, reason, "currency")
		require.Len(t, rec.Requests(), 1, "the request reached stripe-mock")
	})

	t.Run("RefusesABadTransferWithoutARequest", func(t *testing.T) {
		t.Parallel()
		cases := map[string]payout.Transfer{
			"a destination that is not a connected account": {PayoutID: uuid.New(), Amount: 100, Currency: "EUR", Destination: "ba_123"},
			"no destination":        {PayoutID: uuid.New(), Amount: 100, Currency: "EUR"},
			"a lower-case currency": {PayoutID: uuid.New(), Amount: 100, Currency: "eur", Destination: "acct_1"},
			"a zero amount":         {PayoutID: uuid.New(), Amount: 0, Currency: "EUR", Destination: "acct_1"},
			"no payout id":          {Amount: 100, Currency: "EUR", Destination: "acct_1"},
		}
		for name, tr := range cases {
			t.Run(name, func(t *testing.T) {
				rec := &stripemock.Recorder{}
				_, err := newStripe(t, mock, rec).Transfer(context.Background(), tr)
				_, definitive := payout.IsDefinitive(err)
				require.True(t, definitive, "%v", err)
				require.Empty(t, rec.Requests())
			})
		}
	})

	t.Run("AnUnreachableStripeIsTransient", func(t *testing.T) {
		t.Parallel()
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		_, err := newStripe(t, closed.URL, &stripemock.Recorder{}).Transfer(context.Background(),
			payout.Transfer{PayoutID: uuid.New(), Amount: 100, Currency: "EUR", Destination: "acct_1"})
		require.Error(t, err)
		_, definitive := payout.IsDefinitive(err)
		require.False(t, definitive, "%v", err)
	})
}

// TestStripeErrorClasses checks how each class of Stripe answer is sorted,
// with a server that answers as Stripe does when it refuses or fails;
// stripe-mock only ever succeeds or rejects the request's shape.
func TestStripeErrorClasses(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		status     int
		body       string
		definitive bool
	}{
		"insufficient balance is definitive":    {402, `{"error":{"type":"invalid_request_error","code":"balance_insufficient","message":"Insufficient funds"}}`, true},
		"an unknown account is definitive":      {404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such destination"}}`, true},
		"an invalid request is definitive":      {400, `{"error":{"type":"invalid_request_error","message":"Invalid currency"}}`, true},
		"a server error is transient":           {500, `{"error":{"type":"api_error","message":"Something went wrong"}}`, false},
		"a rate limit is transient":             {429, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`, false},
		"a concurrent duplicate is transient":   {409, `{"error":{"type":"invalid_request_error","code":"lock_timeout","message":"in progress"}}`, false},
		"a reused idempotency key is transient": {400, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}`, false},
		"a revoked platform key is transient":   {401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			_, err := newStripe(t, srv.URL, &stripemock.Recorder{}).Transfer(context.Background(),
				payout.Transfer{PayoutID: uuid.New(), Amount: 100, Currency: "EUR", Destination: "acct_1"})
			require.Error(t, err)
			_, definitive := payout.IsDefinitive(err)
			require.Equal(t, tc.definitive, definitive, "%v", err)
		})
	}
}

func TestManual(t *testing.T) {
	t.Parallel()
	ref, err := payout.Manual{}.Transfer(context.Background(), payout.Transfer{PayoutID: uuid.New(), Amount: 1, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payout.ManualRef, ref)
	require.Equal(t, payout.NameManual, payout.Manual{}.Name())
	_, err = payout.Manual{}.Transfer(context.Background(), payout.Transfer{PayoutID: uuid.New(), Amount: -1, Currency: "EUR"})
	_, definitive := payout.IsDefinitive(err)
	require.True(t, definitive)
}

func TestNewStripeConnectValidates(t *testing.T) {
	t.Parallel()
	_, err := payout.NewStripeConnect(payout.StripeOptions{SecretKey: "pk_test_1", APIURL: "localhost:12111"})
	require.ErrorContains(t, err, "sk_ or rk_")
	require.ErrorContains(t, err, "absolute http(s) URL")
	require.NotContains(t, err.Error(), "pk_test_1", "the key is never quoted")
}

func TestParseStripeSecretKey(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		file    string
		want    string
		wantErr bool
	}{
		"a secret key with a trailing newline": {file: "sk_live_abc\n", want: "sk_live_abc"},
		"a restricted key":                     {file: "  rk_test_abc ", want: "rk_test_abc"},
		"a publishable key":                    {file: "pk_live_abc", wantErr: true},
		"an empty file":                        {file: "", wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := payout.ParseStripeSecretKey([]byte(tc.file))
			if tc.wantErr {
				require.ErrorContains(t, err, "sk_ or rk_")
				require.NotContains(t, err.Error(), "abc", "the key is never quoted")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
