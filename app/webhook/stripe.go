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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// StripeSignatureHeader carries Stripe's signature of a delivery.
const StripeSignatureHeader = "Stripe-Signature"

// StripeSignature is a parsed Stripe-Signature header:
// "t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]", with v0 and unknown
// schemes ignored.
type StripeSignature struct {
	// Timestamp is the signed time, in Unix seconds.
	Timestamp int64
	// V1 are the v1 signatures, 32 bytes each.
	V1 [][]byte
	// t is the timestamp as sent, which is what was signed.
	t string
}

// ParseStripeSignature parses a Stripe-Signature header. It refuses a
// header without exactly one t, without a v1, with a v1 that is not 64 hex
// digits, with an element that is not key=value, or with more than 16 v1
// signatures.
func ParseStripeSignature(header string) (StripeSignature, error) {
	var sig StripeSignature
	if header == "" {
		return sig, Refuse(ReasonMissingHeader, "no %s header", StripeSignatureHeader)
	}
	for _, pair := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return StripeSignature{}, Refuse(ReasonMalformedHeader, "an element of %s is not key=value", StripeSignatureHeader)
		}
		if err := sig.add(key, value); err != nil {
			return StripeSignature{}, err
		}
	}
	switch {
	case sig.t == "":
		return StripeSignature{}, Refuse(ReasonMalformedHeader, "%s has no timestamp", StripeSignatureHeader)
	case len(sig.V1) == 0:
		return StripeSignature{}, Refuse(ReasonMalformedHeader, "%s has no v1 signature", StripeSignatureHeader)
	}
	return sig, nil
}

// add records one key=value element of the header.
func (sig *StripeSignature) add(key, value string) error {
	switch key {
	case "t":
		unix, ok := parseUnix(value)
		if !ok || sig.t != "" {
			return Refuse(ReasonMalformedHeader, "%s needs one timestamp of decimal digits", StripeSignatureHeader)
		}
		sig.Timestamp, sig.t = unix, value
	case "v1":
		mac, err := hex.DecodeString(value)
		if err != nil || len(mac) != sha256.Size {
			return Refuse(ReasonMalformedHeader, "a v1 signature is not %d hex digits", 2*sha256.Size)
		}
		if len(sig.V1) == maxSignatures {
			return Refuse(ReasonMalformedHeader, "more than %d v1 signatures", maxSignatures)
		}
		sig.V1 = append(sig.V1, mac)
	}
	return nil
}

// signedBy reports whether any v1 signature is the HMAC-SHA256 of
// "t.body" under secret, comparing in constant time.
func (sig StripeSignature) signedBy(secret string, body []byte) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sig.t))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	matched := false
	for _, got := range sig.V1 {
		if hmac.Equal(want, got) {
			matched = true
		}
	}
	return matched
}

// verifyStripe checks a Stripe delivery: a v1 signature by one of the
// secrets, then the timestamp within tolerance both ways (stripe-go only
// refuses old ones), then the event, parsed with stripe-go whatever API
// version the account renders events in.
func (e Endpoint) verifyStripe(header http.Header, body []byte, now time.Time) (Event, error) {
	sig, err := ParseStripeSignature(header.Get(StripeSignatureHeader))
	if err != nil {
		return Event{}, err
	}
	if !signedByAny(e.Secrets, func(secret string) bool { return sig.signedBy(secret, body) }) {
		return Event{}, Refuse(ReasonBadSignature, "no v1 signature matches any of the endpoint's %d secrets", len(e.Secrets))
	}
	if err := checkTimestamp(sig.Timestamp, now, e.Tolerance); err != nil {
		return Event{}, err
	}
	return parseStripeEvent(body)
}

// parseStripeEvent reads a verified body as a stripe-go Event. The API
// version is not compared with stripe-go's: only the envelope is read here.
func parseStripeEvent(body []byte) (Event, error) {
	var ev stripe.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, Refuse(ReasonMalformedEvent, "the body is not a Stripe event: %s", err.Error())
	}
	if ev.Object != "event" || !validText(ev.ID) || !validText(string(ev.Type)) {
		return Event{}, Refuse(ReasonMalformedEvent, "the body is not a Stripe event with an id and a type")
	}
	return Event{ID: ev.ID, Type: string(ev.Type), Document: body}, nil
}
