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
)

func svixOf(n int) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
}

func TestParse(t *testing.T) {
	t.Parallel()
	stripe, clerk := rekomiv1.ProviderStripe, rekomiv1.ProviderClerk
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
	for _, v := range []string{stripeSecret, svixSecret, svixOf(64), svixOf(65), "whsec_", "", "whsec_\n" + svixSecret[6:], "whsec_===="} {
		f.Add("current", v, true)
		f.Add("current", v, false)
	}
	f.Fuzz(func(t *testing.T, key, value string, stripe bool) {
		provider := rekomiv1.ProviderClerk
		if stripe {
			provider = rekomiv1.ProviderStripe
		}
		got, err := Parse(provider, map[string][]byte{key: []byte(value)})
		if err == nil {
			require.Equal(t, []string{value}, got)
			body, ok := strings.CutPrefix(value, "whsec_")
			require.True(t, ok)
			if stripe {
				require.GreaterOrEqual(t, len(body), 24)
				require.True(t, isAlphanumeric(body))
			} else {
				decoded, err := base64.StdEncoding.DecodeString(body)
				require.NoError(t, err)
				require.GreaterOrEqual(t, len(decoded), 24)
				require.LessOrEqual(t, len(decoded), 64)
				require.Equal(t, body, base64.StdEncoding.EncodeToString(decoded), "only canonical base64")
			}
			return
		}
		_, probe := Parse(provider, map[string][]byte{key: []byte("!")})
		require.Error(t, probe)
		require.Equal(t, probe.Error(), err.Error(), "the message must not depend on the value")
	})
}
