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
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/rekomi/rekomi/app/payout"
	"github.com/rekomi/rekomi/app/payout/stripemock"
)

func stripeWithKey(t *testing.T, key, apiURL string, rec *stripemock.Recorder) *payout.StripeConnect {
	t.Helper()
	p, err := payout.NewStripeConnect(payout.StripeOptions{SecretKey: key, APIURL: apiURL,
		HTTPClient: &http.Client{Transport: rec}, MaxNetworkRetries: stripe.Int64(0)})
	require.NoError(t, err)
	return p
}

func TestStripeCheckAccount(t *testing.T) {
	t.Parallel()
	filter, mock := stripemock.StartFiltered(t)
	const keyA, keyB = "sk_test_A", "sk_test_B"
	filter.Hide(keyA, "acct_OfB")
	filter.EditAccount("acct_Restricted", func(a map[string]any) {
		a["capabilities"] = map[string]any{"transfers": "inactive"}
	})

	t.Run("AcceptsAnAccountTheKeySeesWithActiveTransfers", func(t *testing.T) {
		t.Parallel()
		rec := &stripemock.Recorder{}
		require.NoError(t, stripeWithKey(t, keyA, mock, rec).CheckAccount(context.Background(), "acct_Visible"))
		reqs := rec.Requests()
		require.Len(t, reqs, 1)
		require.Equal(t, http.MethodGet, reqs[0].Method)
		require.Equal(t, "/v1/accounts/acct_Visible", reqs[0].Path)
		require.Equal(t, "Bearer "+keyA, reqs[0].Header.Get("Authorization"))
	})

	t.Run("RefusesAnAccountTheKeyCannotSee", func(t *testing.T) {
		t.Parallel()
		err := stripeWithKey(t, keyA, mock, &stripemock.Recorder{}).CheckAccount(context.Background(), "acct_OfB")
		reason, definitive := payout.IsDefinitive(err)
		require.True(t, definitive, "%v", err)
		require.Equal(t, "the account is not visible to the organization's Stripe key", reason)
		require.NoError(t, stripeWithKey(t, keyB, mock, &stripemock.Recorder{}).CheckAccount(context.Background(), "acct_OfB"),
			"another key sees it")
	})

	t.Run("RefusesAnAccountWhoseTransfersAreNotActive", func(t *testing.T) {
		t.Parallel()
		err := stripeWithKey(t, keyA, mock, &stripemock.Recorder{}).CheckAccount(context.Background(), "acct_Restricted")
		reason, definitive := payout.IsDefinitive(err)
		require.True(t, definitive, "%v", err)
		require.Contains(t, reason, "cannot receive transfers")
	})

	t.Run("RefusesATransferToAnAccountTheKeyCannotSee", func(t *testing.T) {
		t.Parallel()
		_, err := stripeWithKey(t, keyA, mock, &stripemock.Recorder{}).Transfer(context.Background(),
			payout.Transfer{PayoutID: uuid.New(), Amount: 100, Currency: "EUR", Destination: "acct_OfB"})
		_, definitive := payout.IsDefinitive(err)
		require.True(t, definitive, "%v", err)
	})

	t.Run("CannotTellWhenStripeFailsOrIsUnreachable", func(t *testing.T) {
		t.Parallel()
		failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"try again"}}`))
		}))
		t.Cleanup(failing.Close)
		closed := httptest.NewServer(http.NotFoundHandler())
		closed.Close()
		for _, url := range []string{failing.URL, closed.URL} {
			err := stripeWithKey(t, keyA, url, &stripemock.Recorder{}).CheckAccount(context.Background(), "acct_Visible")
			require.Error(t, err)
			_, definitive := payout.IsDefinitive(err)
			require.False(t, definitive, "%v", err)
		}
	})

	t.Run("RefusesAnIDThatIsNotAnAccount", func(t *testing.T) {
		t.Parallel()
		rec := &stripemock.Recorder{}
		_, definitive := payout.IsDefinitive(stripeWithKey(t, keyA, mock, rec).CheckAccount(context.Background(), "acct_1/../../v1/balance"))
		require.True(t, definitive)
		require.Empty(t, rec.Requests())
	})
}

func TestStripeKeyKind(t *testing.T) {
	t.Parallel()
	for key, want := range map[string][2]string{
		"sk_test_51abc": {"secret", "test"},
		"sk_live_51abc": {"secret", "live"},
		"rk_live_51abc": {"restricted", "live"},
		"rk_test_51abc": {"restricted", "test"},
		"sk_51abc":      {"secret", "unknown"},
	} {
		kind, mode := payout.StripeKeyKind(key)
		require.Equal(t, want, [2]string{kind, mode}, key)
	}
}
