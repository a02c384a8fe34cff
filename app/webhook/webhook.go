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

package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The providers whose deliveries are verified.
const (
	ProviderStripe = "stripe"
	ProviderClerk  = "clerk"
)

// Providers lists every provider Verify knows, in the order the product
// documents them.
func Providers() []string {
	return []string{ProviderStripe, ProviderClerk, ProviderPaddle, ProviderShopify, ProviderBraintree}
}

// maxSignatures bounds the signatures one delivery may carry; a rotation
// needs two or three.
const maxSignatures = 16

// The tolerance an endpoint may choose for its signed timestamps, in the
// past or in the future, and the one it gets by default. The
// WebhookEndpoint CRD and the webhook_endpoints column write them again;
// TestToleranceBoundsAgree keeps the three the same.
const (
	DefaultTolerance = 300 * time.Second
	MinTolerance     = 60 * time.Second
	MaxTolerance     = 600 * time.Second
)

// maxTextLength bounds an event's id and type, as billing_events does.
const maxTextLength = 255

// Endpoint is what verifying a delivery needs of the endpoint it is for.
type Endpoint struct {
	// Provider is ProviderStripe, ProviderClerk, ProviderPaddle,
	// ProviderShopify or ProviderBraintree.
	Provider string
	// Secrets are the endpoint's current signing secrets: a delivery signed
	// with any of them is accepted (several during a rotation).
	Secrets []string
	// Tolerance is how far the signed timestamp may be from now, past or
	// future.
	Tolerance time.Duration
}

// Event is a verified delivery's event.
type Event struct {
	// ID is the provider's event id (Stripe's evt_..., Svix's message id),
	// unique per provider and endpoint account.
	ID string
	// Type is the provider's event type, such as invoice.paid.
	Type string
	// Document is the event as a JSON object, the form it is stored in:
	// the body itself for providers that send JSON, a rendering of the
	// signed notification for Braintree (see braintreeDocument).
	Document []byte
}

// Verify checks the delivery's headers and exact body against the endpoint
// at now and returns its event, or an *Error saying why it was refused.
func (e Endpoint) Verify(header http.Header, body []byte, now time.Time) (Event, error) {
	switch e.Provider {
	case ProviderStripe:
		return e.verifyStripe(header, body, now)
	case ProviderClerk:
		return e.verifyClerk(header, body, now)
	case ProviderBraintree:
		return e.verifyBraintree(header, body, now)
	case ProviderPaddle:
		return e.verifyPaddle(header, body, now)
	case ProviderShopify:
		return e.verifyShopify(header, body, now)
	}
	return Event{}, Refuse(ReasonUnknownProvider, "no verifier for provider %q", e.Provider)
}

// signedByAny reports whether signs accepts any of an endpoint's secrets
// (several during a rotation). Every secret is tried, so the time taken
// does not say which one matched.
func signedByAny(secrets []string, signs func(secret string) bool) bool {
	signed := false
	for _, secret := range secrets {
		signed = signs(secret) || signed
	}
	return signed
}

// checkTimestamp refuses a signed timestamp more than tolerance away from
// now, in either direction; exactly tolerance away is accepted. Both are
// whole seconds, as the providers sign them.
func checkTimestamp(unix int64, now time.Time, tolerance time.Duration) error {
	age, limit := now.Unix()-unix, int64(tolerance/time.Second)
	switch {
	case age > limit:
		return Refuse(ReasonStaleTimestamp, "signed %d s ago, tolerance %d s", age, limit)
	case -age > limit:
		return Refuse(ReasonFutureTimestamp, "signed %d s ahead, tolerance %d s", -age, limit)
	}
	return nil
}

// parseUnix parses a signed timestamp: 1 to 12 decimal digits (until the
// year 33658), nothing else, so the text is the number it signs.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 12 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// isJSONObject reports whether body is one JSON object and nothing else.
func isJSONObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(body)
}

// validText reports whether s can be an event id or type: 1 to 255
// characters of UTF-8 without control characters.
func validText(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > maxTextLength || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
