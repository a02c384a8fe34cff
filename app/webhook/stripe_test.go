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

package webhook_test

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"

	"github.com/rekomi/rekomi/app/webhook"
)

const (
	oldStripeSecret = "whsec_old0123456789abcdef"
	newStripeSecret = "whsec_new0123456789abcdef"
)

// testNow is the clock of every verifier test.
var testNow = time.Unix(1_700_000_000, 0)

const stripeBody = `{"id":"evt_1","object":"event","api_version":"2015-01-01","type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice"}}}`

// v1 is Stripe's v1 signature of body at unix under secret, computed by stripe-go.
func v1(secret string, unix int64, body string) string {
	return hex.EncodeToString(stripewebhook.ComputeSignature(time.Unix(unix, 0), []byte(body), secret))
}

func stripeHeader(value string) http.Header {
	h := http.Header{}
	if value != "" {
		h.Set(webhook.StripeSignatureHeader, value)
	}
	return h
}

func TestVerifyStripe(t *testing.T) {
	t.Parallel()
	ep := webhook.Endpoint{Provider: webhook.ProviderStripe, Secrets: []string{oldStripeSecret, newStripeSecret}, Tolerance: 300 * time.Second}
	now := testNow.Unix()
	at := func(unix int64, sigs ...string) string {
		return fmt.Sprintf("t=%d,%s", unix, strings.Join(sigs, ","))
	}
	good := "v1=" + v1(newStripeSecret, now, stripeBody)
	cases := map[string]struct {
		header string
		body   string
		want   webhook.Reason // "" accepts
	}{
		"signed with the new secret":                 {header: at(now, good)},
		"signed with the old secret during rotation": {header: at(now, "v1="+v1(oldStripeSecret, now, stripeBody))},
		"one of several v1 signatures matches":       {header: at(now, "v1="+v1("whsec_other", now, stripeBody), good)},
		"a v0 signature is ignored":                  {header: at(now, "v0=zz-not-hex", good)},
		"an unknown scheme is ignored":               {header: at(now, good, "v9=anything")},
		"spaces around elements are ignored":         {header: fmt.Sprintf(" t=%d , %s ", now, good)},
		"exactly the tolerance in the past":          {header: at(now-300, "v1="+v1(newStripeSecret, now-300, stripeBody))},
		"exactly the tolerance in the future":        {header: at(now+300, "v1="+v1(newStripeSecret, now+300, stripeBody))},
		"an event of another API version":            {header: at(now, good)},
		"one second past the tolerance":              {header: at(now-301, "v1="+v1(newStripeSecret, now-301, stripeBody)), want: webhook.ReasonStaleTimestamp},
		"one second ahead of the tolerance":          {header: at(now+301, "v1="+v1(newStripeSecret, now+301, stripeBody)), want: webhook.ReasonFutureTimestamp},
		"no header":                                  {header: "", want: webhook.ReasonMissingHeader},
		"not key=value":                              {header: "garbage", want: webhook.ReasonMalformedHeader},
		"no timestamp":                               {header: good, want: webhook.ReasonMalformedHeader},
		"two timestamps":                             {header: at(now, fmt.Sprintf("t=%d", now), good), want: webhook.ReasonMalformedHeader},
		"a timestamp that is not digits":             {header: "t=-5," + good, want: webhook.ReasonMalformedHeader},
		"a timestamp too long":                       {header: "t=9999999999999999999999," + good, want: webhook.ReasonMalformedHeader},
		"no v1 signature":                            {header: at(now, "v0="+v1(newStripeSecret, now, stripeBody)), want: webhook.ReasonMalformedHeader},
		"a v1 signature that is not hex":             {header: at(now, "v1=xyz"), want: webhook.ReasonMalformedHeader},
		"a v1 signature of the wrong length":         {header: at(now, "v1=abcd"), want: webhook.ReasonMalformedHeader},
		"seventeen v1 signatures":                    {header: at(now, strings.Repeat(good+",", 16)+good), want: webhook.ReasonMalformedHeader},
		"signed with an unknown secret":              {header: at(now, "v1="+v1("whsec_other", now, stripeBody)), want: webhook.ReasonBadSignature},
		"a body changed after signing":               {header: at(now, good), body: strings.Replace(stripeBody, "evt_1", "evt_2", 1), want: webhook.ReasonBadSignature},
		"a timestamp changed after signing":          {header: at(now-1, good), want: webhook.ReasonBadSignature},
		"a stale timestamp with a bad signature":     {header: at(now-1000, good), want: webhook.ReasonBadSignature},
		"signed but not an event":                    {header: at(now, "v1="+v1(newStripeSecret, now, `{"object":"charge"}`)), body: `{"object":"charge"}`, want: webhook.ReasonMalformedEvent},
		"signed but not JSON":                        {header: at(now, "v1="+v1(newStripeSecret, now, "plain")), body: "plain", want: webhook.ReasonMalformedEvent},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := tc.body
			if body == "" {
				body = stripeBody
			}
			ev, err := ep.Verify(stripeHeader(tc.header), []byte(body), testNow)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, webhook.Event{ID: "evt_1", Type: "invoice.paid", Document: []byte(body)}, ev)
				return
			}
			reason, ok := webhook.ReasonOf(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.want, reason, "%v", err)
			require.NotContains(t, err.Error(), newStripeSecret)
		})
	}
}

func TestVerifyStripeWithoutSecrets(t *testing.T) {
	t.Parallel()
	ep := webhook.Endpoint{Provider: webhook.ProviderStripe, Tolerance: 300 * time.Second}
	h := stripeHeader(fmt.Sprintf("t=%d,v1=%s", testNow.Unix(), v1("", testNow.Unix(), stripeBody)))
	_, err := ep.Verify(h, []byte(stripeBody), testNow)
	reason, _ := webhook.ReasonOf(err)
	require.Equal(t, webhook.ReasonBadSignature, reason)
}

func TestVerifyUnknownProvider(t *testing.T) {
	t.Parallel()
	_, err := webhook.Endpoint{Provider: "paypal"}.Verify(http.Header{}, nil, testNow)
	reason, _ := webhook.ReasonOf(err)
	require.Equal(t, webhook.ReasonUnknownProvider, reason)
}

func TestParseStripeSignature(t *testing.T) {
	t.Parallel()
	mac := strings.Repeat("ab", 32)
	sig, err := webhook.ParseStripeSignature("t=1700000000,v1=" + mac + ",v0=ignored,v1=" + strings.Repeat("cd", 32))
	require.NoError(t, err)
	require.Equal(t, int64(1_700_000_000), sig.Timestamp)
	require.Len(t, sig.V1, 2)
	require.Equal(t, mac, hex.EncodeToString(sig.V1[0]))
}
