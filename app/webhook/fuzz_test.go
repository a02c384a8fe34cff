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
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/webhook"
)

// FuzzParseStripeSignature: no header panics the parser, and an accepted
// one has a timestamp and 1 to 16 v1 signatures of 32 bytes.
func FuzzParseStripeSignature(f *testing.F) {
	f.Add("t=1700000000,v1=" + v1(newStripeSecret, 1_700_000_000, stripeBody))
	f.Add("t=1700000000,v1=" + v1(newStripeSecret, 1_700_000_000, stripeBody) + ",v0=abc")
	f.Add("t=1,v1=zz")
	f.Add("t=,v1=")
	f.Add(",,,")
	f.Add("t=1=2")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		sig, err := webhook.ParseStripeSignature(header)
		if err != nil {
			_, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every error is a refusal: %v", err)
			return
		}
		require.GreaterOrEqual(t, sig.Timestamp, int64(0))
		require.NotEmpty(t, sig.V1)
		require.LessOrEqual(t, len(sig.V1), 16)
		for _, mac := range sig.V1 {
			require.Len(t, mac, 32)
		}
	})
}

// FuzzVerify: no delivery panics either verifier, every failure is a
// refusal with a reason, and an accepted one was signed by the endpoint's
// secret over exactly the body given.
func FuzzVerify(f *testing.F) {
	now := testNow.Unix()
	ts := strconv.FormatInt(now, 10)
	f.Add(true, "t="+ts+",v1="+v1(newStripeSecret, now, stripeBody), "", "", []byte(stripeBody))
	f.Add(true, "t="+ts+",v1="+v1(newStripeSecret, now, "{}"), "", "", []byte("{}"))
	f.Add(false, "msg_1", ts, "v1,"+"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(clerkBody))
	f.Add(false, "msg_1", "", "v1,a v1,b", []byte(""))
	f.Fuzz(func(t *testing.T, stripe bool, a, b, c string, body []byte) {
		ep := webhook.Endpoint{Provider: webhook.ProviderClerk, Secrets: []string{vectorSecret}, Tolerance: 300 * time.Second}
		h := http.Header{}
		if stripe {
			ep.Provider, ep.Secrets = webhook.ProviderStripe, []string{newStripeSecret}
			h.Set(webhook.StripeSignatureHeader, a)
		} else {
			h.Set("svix-id", a)
			h.Set("svix-timestamp", b)
			h.Set("svix-signature", c)
		}
		ev, err := ep.Verify(h, body, testNow)
		if err != nil {
			_, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every error is a refusal: %v", err)
			return
		}
		require.NotEmpty(t, ev.ID)
		require.NotEmpty(t, ev.Type)
	})
}
