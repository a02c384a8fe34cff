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
// (Stripe, Clerk through Svix / Standard Webhooks, Paddle, Shopify and
// Braintree) before the operator stores them: the format check behind a WebhookEndpoint's SecretValid
// condition. It is pure: it reads no Secret and stores nothing, and its
// errors name a Secret's key, never a value.
package webhooksecret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// prefix starts every signing secret of Stripe and Svix.
const prefix = "whsec_"

// Bounds of a signing secret's body (what follows the prefix).
const (
	stripeMinSecretChars = 24 // Stripe: letters and digits
	svixMinSecretBytes   = 24 // Svix / Standard Webhooks: decoded key length
	svixMaxSecretBytes   = 64
)

// The forms of the other providers' secrets.
var (
	// Paddle: the notification setting's id (a ULID in lower case) and
	// the key, as the dashboard and the API's endpoint_secret_key show it.
	paddleSecretForm = regexp.MustCompile(`^pdl_ntfset_[0-9a-z]{26}_[0-9A-Za-z]{24,64}$`)
	// Shopify: an app's client secret, hex, prefixed shpss_ since 2021.
	shopifySecretForm = regexp.MustCompile(`^(shpss_)?[0-9a-f]{32,64}$`)
	// Braintree: the API key pair, public and private, as
	// webhook.BraintreeSecret joins them.
	braintreeSecretForm = regexp.MustCompile(`^[0-9a-z]{8,64}:[0-9a-z]{8,64}$`)
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
	case rekomiv1.ProviderPaddle:
		if !paddleSecretForm.MatchString(v) {
			return errors.New("is not a Paddle secret key: want pdl_ntfset_, the notification setting's 26-character id, _ and 24 to 64 letters or digits")
		}
	case rekomiv1.ProviderShopify:
		if !shopifySecretForm.MatchString(v) {
			return errors.New("is not a Shopify client secret: want 32 to 64 lower-case hex digits, with or without shpss_ before them")
		}
	case rekomiv1.ProviderBraintree:
		if !braintreeSecretForm.MatchString(v) {
			return errors.New("is not a Braintree key pair: want public_key:private_key, each 8 to 64 lower-case letters or digits")
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
