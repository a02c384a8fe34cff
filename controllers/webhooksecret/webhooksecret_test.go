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

package webhooksecret

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

const (
	stripeSecret = "whsec_4eC39HqLyjWDarjtT1zdp7dc0123"
	// The test secret published by the Standard Webhooks specification.
	svixSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	// The example secret key of Paddle's Go SDK.
	paddleSecret = "pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr"
	// A Shopify client secret in its current form, and a custom app's
	// signing secret (64 hex digits, no prefix).
	shopifySecret       = "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"
	shopifyCustomSecret = "5a0f3b1c2d4e6f708192a3b4c5d6e7f85a0f3b1c2d4e6f708192a3b4c5d6e7f8"
	// A Braintree key pair in the form of the sandbox's.
	braintreeSecret = "n8pcxm4cwbqnmp2v:5d0c19e5e8aa4d27b3a6d1b7c0e2f9a4"
)

func svixOf(n int) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
}

func TestParse(t *testing.T) {
	t.Parallel()
	stripe, clerk := rekomiv1.ProviderStripe, rekomiv1.ProviderClerk
	paddle, shopify, braintree := rekomiv1.ProviderPaddle, rekomiv1.ProviderShopify, rekomiv1.ProviderBraintree
	cases := map[string]struct {
		provider rekomiv1.Provider
		data     map[string]string
		want     []string
		wantErr  string // empty: accepted
	}{
		"A Stripe secret of 24 letters and digits is accepted": {
			provider: stripe, data: map[string]string{"current": "whsec_" + strings.Repeat("aB3", 8)},
			want: []string{"whsec_" + strings.Repeat("aB3", 8)},
		},
		"Two keys are two secrets, returned sorted": {
			provider: stripe, data: map[string]string{"a": stripeSecret + "z", "b": stripeSecret},
			want: []string{stripeSecret, stripeSecret + "z"},
		},
		"The same secret under two keys is stored once": {
			provider: stripe, data: map[string]string{"old": stripeSecret, "new": stripeSecret},
			want: []string{stripeSecret},
		},
		"A Stripe secret of 23 characters is refused": {
			provider: stripe, data: map[string]string{"current": "whsec_" + strings.Repeat("a", 23)},
			wantErr: `key "current" is not a Stripe signing secret`,
		},
		"A Stripe secret without the whsec_ prefix is refused": {
			provider: stripe, data: map[string]string{"current": strings.Repeat("a", 40)},
			wantErr: `key "current" is not a Stripe signing secret`,
		},
		"A Stripe secret with a trailing newline is refused": {
			provider: stripe, data: map[string]string{"current": stripeSecret + "\n"},
			wantErr: `key "current" is not a Stripe signing secret`,
		},
		"A Stripe secret with punctuation is refused": {
			provider: stripe, data: map[string]string{"current": stripeSecret + "+/"},
			wantErr: `key "current" is not a Stripe signing secret`,
		},
		"One bad key among good ones is named": {
			provider: stripe, data: map[string]string{"a": stripeSecret, "b": "whsec_short", "c": stripeSecret},
			wantErr: `key "b" is not a Stripe signing secret`,
		},
		"An empty Secret is refused": {
			provider: stripe, data: map[string]string{},
			wantErr: "holds no signing secret",
		},
		"An empty value is refused": {
			provider: clerk, data: map[string]string{"current": ""},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"The Standard Webhooks test secret is accepted for Clerk": {
			provider: clerk, data: map[string]string{"current": svixSecret},
			want: []string{svixSecret},
		},
		"A Clerk secret of 64 bytes is accepted": {
			provider: clerk, data: map[string]string{"current": svixOf(64)},
			want: []string{svixOf(64)},
		},
		"A Clerk secret of 23 bytes is refused": {
			provider: clerk, data: map[string]string{"current": svixOf(23)},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"A Clerk secret of 65 bytes is refused": {
			provider: clerk, data: map[string]string{"current": svixOf(65)},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"A Clerk secret in URL-safe base64 is refused": {
			provider: clerk, data: map[string]string{"current": "whsec_" + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16)))},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"A Clerk secret without padding is refused": {
			provider: clerk, data: map[string]string{"current": "whsec_" + base64.RawStdEncoding.EncodeToString([]byte(strings.Repeat("k", 25)))},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"A Clerk secret with a line break inside is refused": {
			provider: clerk, data: map[string]string{"current": svixSecret[:20] + "\n" + svixSecret[20:]},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"A Clerk secret without the whsec_ prefix is refused": {
			provider: clerk, data: map[string]string{"current": strings.TrimPrefix(svixSecret, "whsec_")},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"A Stripe secret is refused for Clerk when it is not base64 of a key": {
			provider: clerk, data: map[string]string{"current": stripeSecret},
			wantErr: `key "current" is not a Clerk (Svix) signing secret`,
		},
		"Paddle's example secret key is accepted": {
			provider: paddle, data: map[string]string{"current": paddleSecret},
			want: []string{paddleSecret},
		},
		"A Paddle secret key and its successor are two secrets": {
			provider: paddle, data: map[string]string{"old": paddleSecret, "new": paddleSecret[:len(paddleSecret)-1] + "x"},
			want: []string{paddleSecret, paddleSecret[:len(paddleSecret)-1] + "x"},
		},
		"A Paddle secret key without its prefix is refused": {
			provider: paddle, data: map[string]string{"current": strings.TrimPrefix(paddleSecret, "pdl_")},
			wantErr: `key "current" is not a Paddle secret key`,
		},
		"A Paddle notification setting id alone is refused": {
			provider: paddle, data: map[string]string{"current": "ntfset_01hsdn8d43dt7mezr1ef2jtbaw"},
			wantErr: `key "current" is not a Paddle secret key`,
		},
		"A Paddle secret key with a trailing newline is refused": {
			provider: paddle, data: map[string]string{"current": paddleSecret + "\n"},
			wantErr: `key "current" is not a Paddle secret key`,
		},
		"A Stripe secret is refused for Paddle": {
			provider: paddle, data: map[string]string{"current": stripeSecret},
			wantErr: `key "current" is not a Paddle secret key`,
		},
		"A Shopify client secret with its prefix is accepted": {
			provider: shopify, data: map[string]string{"current": shopifySecret},
			want: []string{shopifySecret},
		},
		"A Shopify custom app's 64-digit secret is accepted": {
			provider: shopify, data: map[string]string{"current": shopifyCustomSecret},
			want: []string{shopifyCustomSecret},
		},
		"A Shopify secret in upper case is refused": {
			provider: shopify, data: map[string]string{"current": strings.ToUpper(shopifyCustomSecret)},
			wantErr: `key "current" is not a Shopify client secret`,
		},
		"A Shopify secret of 31 digits is refused": {
			provider: shopify, data: map[string]string{"current": shopifySecret[:len(shopifySecret)-1]},
			wantErr: `key "current" is not a Shopify client secret`,
		},
		"A Shopify access token is refused": {
			provider: shopify, data: map[string]string{"current": "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"},
			wantErr: `key "current" is not a Shopify client secret`,
		},
		"A Braintree key pair is accepted": {
			provider: braintree, data: map[string]string{"current": braintreeSecret},
			want: []string{braintreeSecret},
		},
		"A Braintree private key alone is refused": {
			provider: braintree, data: map[string]string{"current": strings.SplitN(braintreeSecret, ":", 2)[1]},
			wantErr: `key "current" is not a Braintree key pair`,
		},
		"A Braintree pair with an empty public key is refused": {
			provider: braintree, data: map[string]string{"current": ":" + strings.SplitN(braintreeSecret, ":", 2)[1]},
			wantErr: `key "current" is not a Braintree key pair`,
		},
		"A Braintree pair of three parts is refused": {
			provider: braintree, data: map[string]string{"current": braintreeSecret + ":extra123"},
			wantErr: `key "current" is not a Braintree key pair`,
		},
		"A Braintree pair with a space is refused": {
			provider: braintree, data: map[string]string{"current": strings.Replace(braintreeSecret, ":", ": ", 1)},
			wantErr: `key "current" is not a Braintree key pair`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data := map[string][]byte{}
			for k, v := range tc.data {
				data[k] = []byte(v)
			}
			got, err := Parse(tc.provider, data)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, got)
			for _, v := range tc.data {
				if len(v) > len("whsec_") {
					require.NotContains(t, err.Error(), v, "the message must not quote a secret")
				}
			}
		})
	}
}

// FuzzParse checks that what is accepted has the provider's format
// and that a refusal's message depends on the key alone, so it can never
// carry any part of a secret.
func FuzzParse(f *testing.F) {
	providers := []rekomiv1.Provider{rekomiv1.ProviderStripe, rekomiv1.ProviderClerk,
		rekomiv1.ProviderPaddle, rekomiv1.ProviderShopify, rekomiv1.ProviderBraintree}
	for _, v := range []string{stripeSecret, svixSecret, svixOf(64), svixOf(65), "whsec_", "", "whsec_\n" + svixSecret[6:], "whsec_====",
		paddleSecret, shopifySecret, shopifyCustomSecret, braintreeSecret, braintreeSecret + "\n"} {
		for i := range providers {
			f.Add("current", v, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, key, value string, which uint8) {
		provider := providers[int(which)%len(providers)]
		got, err := Parse(provider, map[string][]byte{key: []byte(value)})
		if err == nil {
			require.Equal(t, []string{value}, got)
			requireForm(t, provider, value)
			return
		}
		_, probe := Parse(provider, map[string][]byte{key: []byte("!")})
		require.Error(t, probe)
		require.Equal(t, probe.Error(), err.Error(), "the message must not depend on the value")
	})
}

// requireForm checks an accepted value against its provider's form,
// written apart from the checks under test.
func requireForm(t *testing.T, provider rekomiv1.Provider, value string) {
	t.Helper()
	in := func(s, alphabet string) bool { return strings.Trim(s, alphabet) == "" }
	const lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	switch provider {
	case rekomiv1.ProviderStripe, rekomiv1.ProviderClerk:
		body, ok := strings.CutPrefix(value, "whsec_")
		require.True(t, ok)
		if provider == rekomiv1.ProviderStripe {
			require.GreaterOrEqual(t, len(body), 24)
			require.True(t, isAlphanumeric(body))
			return
		}
		decoded, err := base64.StdEncoding.DecodeString(body)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(decoded), 24)
		require.LessOrEqual(t, len(decoded), 64)
		require.Equal(t, body, base64.StdEncoding.EncodeToString(decoded), "only canonical base64")
	case rekomiv1.ProviderPaddle:
		parts := strings.Split(value, "_")
		require.Len(t, parts, 4)
		require.Equal(t, []string{"pdl", "ntfset"}, parts[:2])
		require.Len(t, parts[2], 26)
		require.True(t, in(parts[2], lowerAlnum))
		require.True(t, len(parts[3]) >= 24 && len(parts[3]) <= 64 && isAlphanumeric(parts[3]))
	case rekomiv1.ProviderShopify:
		hex := strings.TrimPrefix(value, "shpss_")
		require.True(t, len(hex) >= 32 && len(hex) <= 64 && in(hex, "0123456789abcdef"))
	case rekomiv1.ProviderBraintree:
		public, private, ok := strings.Cut(value, ":")
		require.True(t, ok)
		for _, k := range []string{public, private} {
			require.True(t, len(k) >= 8 && len(k) <= 64 && in(k, lowerAlnum))
		}
	}
}
