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
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	paddle "github.com/PaddleHQ/paddle-go-sdk/v4"
)

// Paddle Billing deliveries carry "Paddle-Signature: ts=<unix>;h1=<hex>",
// the h1 being HMAC-SHA256 over "ts:body" with the notification
// destination's secret key (developer.paddle.com, "Verify webhook
// signatures"). The signature is checked by Paddle's Go SDK; its own
// timestamp check reads the wall clock and is left off, and the
// endpoint's tolerance is held here, both ways, as for Stripe.

// ProviderPaddle is Paddle Billing's provider name.
const ProviderPaddle = "paddle"

// PaddleSignatureHeader carries Paddle's signature of a delivery.
const PaddleSignatureHeader = "Paddle-Signature"

// paddleSignature is a parsed Paddle-Signature header: one ts, and one or
// more h1 (more than one while a secret is being rotated).
type paddleSignature struct {
	ts   string
	unix int64
	h1   []string
}

// parsePaddleSignature parses a Paddle-Signature header, refusing one
// without exactly one ts of digits, without an h1, with an h1 that is not
// 64 lower-case hex digits (the SDK's form), with an element that is not
// key=value, or with more than 16 h1.
func parsePaddleSignature(header string) (paddleSignature, error) {
	var sig paddleSignature
	if header == "" {
		return sig, Refuse(ReasonMissingHeader, "no %s header", PaddleSignatureHeader)
	}
	for _, element := range strings.Split(header, ";") {
		key, value, ok := strings.Cut(strings.TrimSpace(element), "=")
		switch {
		case !ok:
			return paddleSignature{}, Refuse(ReasonMalformedHeader, "an element of %s is not key=value", PaddleSignatureHeader)
		case key == "ts":
			unix, valid := parseUnix(value)
			if !valid || sig.ts != "" {
				return paddleSignature{}, Refuse(ReasonMalformedHeader, "%s needs one ts of decimal digits", PaddleSignatureHeader)
			}
			sig.ts, sig.unix = value, unix
		case key == "h1":
			if len(value) != 64 || strings.Trim(value, "0123456789abcdef") != "" {
				return paddleSignature{}, Refuse(ReasonMalformedHeader, "an h1 signature is not 64 lower-case hex digits")
			}
			if len(sig.h1) == maxSignatures {
				return paddleSignature{}, Refuse(ReasonMalformedHeader, "more than %d h1 signatures", maxSignatures)
			}
			sig.h1 = append(sig.h1, value)
		}
	}
	if sig.ts == "" || len(sig.h1) == 0 {
		return paddleSignature{}, Refuse(ReasonMalformedHeader, "%s needs a ts and an h1", PaddleSignatureHeader)
	}
	return sig, nil
}

// signedBy reports whether any h1 is secret's signature of body, as the
// SDK verifies one: every h1 is tried, so the time taken does not say
// which matched.
func (sig paddleSignature) signedBy(secret string, body []byte) bool {
	verifier := paddle.NewWebhookVerifier(secret)
	signed := false
	for _, h1 := range sig.h1 {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "/", bytes.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set(PaddleSignatureHeader, "ts="+sig.ts+";h1="+h1)
		ok, err := verifier.Verify(req)
		signed = (ok && err == nil) || signed
	}
	return signed
}

// verifyPaddle checks a Paddle delivery and reads its event.
func (e Endpoint) verifyPaddle(header http.Header, body []byte, now time.Time) (Event, error) {
	sig, err := parsePaddleSignature(header.Get(PaddleSignatureHeader))
	if err != nil {
		return Event{}, err
	}
	if !signedByAny(e.Secrets, func(secret string) bool { return sig.signedBy(secret, body) }) {
		return Event{}, Refuse(ReasonBadSignature, "no h1 signature matches any of the endpoint's %d secrets", len(e.Secrets))
	}
	if err := checkTimestamp(sig.unix, now, e.Tolerance); err != nil {
		return Event{}, err
	}
	var ev struct {
		ID   string `json:"event_id"`
		Type string `json:"event_type"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, Refuse(ReasonMalformedEvent, "the body is not a JSON event: %s", err.Error())
	}
	if !validText(ev.ID) || !validText(ev.Type) {
		return Event{}, Refuse(ReasonMalformedEvent, "the event has no event_id or event_type")
	}
	return Event{ID: ev.ID, Type: ev.Type, Document: body}, nil
}
