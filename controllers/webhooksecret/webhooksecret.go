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

// Package webhooksecret checks the signing secrets of webhook providers
// (Stripe, and Clerk through Svix / Standard Webhooks) before the operator
// stores them: the format check behind a WebhookEndpoint's SecretValid
// condition. It is pure: it reads no Secret and stores nothing, and its
// errors name a Secret's key, never a value.
package webhooksecret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// prefix starts every signing secret of the supported providers.
const prefix = "whsec_"

// Bounds of a signing secret's body (what follows the prefix).
const (
	stripeMinSecretChars = 24 // Stripe: letters and digits
	svixMinSecretBytes   = 24 // Svix / Standard Webhooks: decoded key length
	svixMaxSecretBytes   = 64
)

// Parse returns the signing secrets held in a Secret's data, sorted and
// without duplicates: one per key, so a rotation holds two. It refuses an
// empty Secret and any value that is not a signing secret of provider. Its
// error names the offending key, never a value, so it may go into a
// condition message.
func Parse(provider rekomiv1.Provider, data map[string][]byte) ([]string, error) {
	if len(data) == 0 {
		return nil, errors.New("holds no signing secret")
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	secrets := make([]string, 0, len(data))
	for _, k := range keys {
		v := string(data[k])
		if err := checkSigningSecret(provider, v); err != nil {
			return nil, fmt.Errorf("key %q %w", k, err)
		}
		secrets = append(secrets, v)
	}
	slices.Sort(secrets)
	return slices.Compact(secrets), nil
}

// checkSigningSecret reports why v is not a signing secret of provider. Its
// message depends on the provider only, never on v.
func checkSigningSecret(provider rekomiv1.Provider, v string) error {
	body, ok := strings.CutPrefix(v, prefix)
	switch provider {
	case rekomiv1.ProviderStripe:
		if !ok || len(body) < stripeMinSecretChars || !isAlphanumeric(body) {
			return fmt.Errorf("is not a Stripe signing secret: want %s followed by at least %d letters or digits",
				prefix, stripeMinSecretChars)
		}
	case rekomiv1.ProviderClerk:
		if !ok || !isSvixKey(body) {
			return fmt.Errorf("is not a Clerk (Svix) signing secret: want %s followed by standard base64 of %d to %d bytes",
				prefix, svixMinSecretBytes, svixMaxSecretBytes)
		}
	default:
		return fmt.Errorf("cannot be checked: unknown provider %q", provider)
	}
	return nil
}

func isAlphanumeric(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isSvixKey reports whether s is padded standard base64 of an acceptable key
// length. The alphabet is checked first: the decoder skips line breaks,
// which a provider's library would then read as part of the secret.
func isSvixKey(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	key, err := base64.StdEncoding.Strict().DecodeString(s)
	return err == nil && len(key) >= svixMinSecretBytes && len(key) <= svixMaxSecretBytes
}
