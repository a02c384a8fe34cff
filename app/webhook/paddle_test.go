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
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	paddle "github.com/PaddleHQ/paddle-go-sdk/v4"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/webhook"
)

// The Paddle vector was computed outside Go, with Python's hmac and
// hashlib, not by the code under test:
//
//	hmac.new(secret, ts + b":" + body, hashlib.sha256).hexdigest()
const (
	pdlSecret = "pdl_ntfset_01hv8wptq8987qeep44e1xfv4s_5zyOrLH4iS1iHPZl7ihRUrMWFiKBmPMs"
	pdlBody   = `{"event_id":"evt_01hv8x2acma9bmfaz8d7ktjw5v","event_type":"transaction.completed","occurred_at":"2026-12-04T09:00:00.000000Z","notification_id":"ntf_01hv8x2af7ckbqd8q6dh6zrbtm","data":{"id":"txn_01hv8wptq8987qeep44e1xfv4s","custom_data":{"rk_vid":"visitor-1"}}}`
	pdlTS     = "1796374800"
	pdlH1     = "d6bdd162f35b2944d123878ecdab06235c7ff596f2a8b6b22cc7a314db4c3853"
)

var pdlSent = time.Unix(1_796_374_800, 0)

// pdlSign signs body at ts as Paddle does, written apart from the verifier.
func pdlSign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + ":" + body))
	return hex.EncodeToString(m.Sum(nil))
}

func paddleEndpoint(secrets ...string) webhook.Endpoint {
	if len(secrets) == 0 {
		secrets = []string{pdlSecret}
	}
	return webhook.Endpoint{Provider: webhook.ProviderPaddle, Secrets: secrets, Tolerance: 300 * time.Second}
}

func pdlHeader(value string) http.Header {
	h := http.Header{}
	h.Set(webhook.PaddleSignatureHeader, value)
	return h
}

func TestVerifyPaddle(t *testing.T) {
	t.Parallel()

	t.Run("AcceptsTheVector", func(t *testing.T) {
		require.Equal(t, pdlH1, pdlSign(pdlSecret, pdlTS, pdlBody), "the test's own signer agrees with the vector")
		ev, err := paddleEndpoint().Verify(pdlHeader("ts="+pdlTS+";h1="+pdlH1), []byte(pdlBody), pdlSent.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, webhook.Event{ID: "evt_01hv8x2acma9bmfaz8d7ktjw5v", Type: "transaction.completed", Document: []byte(pdlBody)}, ev)
	})

	t.Run("AcceptsAnyOfTheEndpointsSecretsAndAnyH1DuringARotation", func(t *testing.T) {
		other := "pdl_ntfset_other_secret"
		header := "ts=" + pdlTS + ";h1=" + pdlSign(other, pdlTS, pdlBody) + ";h1=" + pdlH1
		_, err := paddleEndpoint().Verify(pdlHeader(header), []byte(pdlBody), pdlSent)
		require.NoError(t, err)
		_, err = paddleEndpoint(other, pdlSecret).Verify(pdlHeader("ts="+pdlTS+";h1="+pdlSign(other, pdlTS, pdlBody)), []byte(pdlBody), pdlSent)
		require.NoError(t, err)
	})

	// The SDK's verifier checks the timestamp only when given a tolerance,
	// and then against the wall clock: a delivery signed ten minutes
	// before "now" passes it without one. The endpoint's tolerance is held
	// by the verifier here, against the clock it is given, both ways.
	t.Run("HoldsTheToleranceTheSDKLeavesOff", func(t *testing.T) {
		old := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
		req, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(pdlBody)))
		require.NoError(t, err)
		req.Header.Set(webhook.PaddleSignatureHeader, "ts="+old+";h1="+pdlSign(pdlSecret, old, pdlBody))
		ok, err := paddle.NewWebhookVerifier(pdlSecret).Verify(req)
		require.NoError(t, err)
		require.True(t, ok, "the SDK alone accepts a delivery signed ten minutes ago")

		header := pdlHeader("ts=" + pdlTS + ";h1=" + pdlH1)
		for offset, want := range map[time.Duration]webhook.Reason{
			300 * time.Second: "", -300 * time.Second: "",
			301 * time.Second: webhook.ReasonStaleTimestamp, -301 * time.Second: webhook.ReasonFutureTimestamp,
		} {
			_, err := paddleEndpoint().Verify(header, []byte(pdlBody), pdlSent.Add(offset))
			if want == "" {
				require.NoError(t, err, offset)
				continue
			}
			reason, _ := webhook.ReasonOf(err)
			require.Equal(t, want, reason, offset)
		}
	})

	changed := strings.Replace(pdlBody, "visitor-1", "visitor-2", 1)
	for name, tc := range map[string]struct {
		header, body string
		want         webhook.Reason
	}{
		"no header":                      {"", pdlBody, webhook.ReasonMissingHeader},
		"a body changed":                 {"ts=" + pdlTS + ";h1=" + pdlH1, changed, webhook.ReasonBadSignature},
		"a timestamp changed":            {"ts=1796374801;h1=" + pdlH1, pdlBody, webhook.ReasonBadSignature},
		"another secret's signature":     {"ts=" + pdlTS + ";h1=" + pdlSign("pdl_other", pdlTS, pdlBody), pdlBody, webhook.ReasonBadSignature},
		"an h1 in upper case":            {"ts=" + pdlTS + ";h1=" + strings.ToUpper(pdlH1), pdlBody, webhook.ReasonMalformedHeader},
		"an h1 cut short":                {"ts=" + pdlTS + ";h1=" + pdlH1[:62], pdlBody, webhook.ReasonMalformedHeader},
		"no h1":                          {"ts=" + pdlTS, pdlBody, webhook.ReasonMalformedHeader},
		"two timestamps":                 {"ts=" + pdlTS + ";ts=1;h1=" + pdlH1, pdlBody, webhook.ReasonMalformedHeader},
		"a timestamp that is not digits": {"ts=-1;h1=" + pdlH1, pdlBody, webhook.ReasonMalformedHeader},
		"17 h1":                          {"ts=" + pdlTS + strings.Repeat(";h1="+pdlH1, 17), pdlBody, webhook.ReasonMalformedHeader},
		"an element without a value":     {"ts=" + pdlTS + ";h1", pdlBody, webhook.ReasonMalformedHeader},
		"a signed body that is not JSON": {"ts=" + pdlTS + ";h1=" + pdlSign(pdlSecret, pdlTS, "not json"), "not json", webhook.ReasonMalformedEvent},
		"a signed event without an id":   {"ts=" + pdlTS + ";h1=" + pdlSign(pdlSecret, pdlTS, `{"event_type":"x"}`), `{"event_type":"x"}`, webhook.ReasonMalformedEvent},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := paddleEndpoint().Verify(pdlHeader(tc.header), []byte(tc.body), pdlSent)
			reason, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every failure is a refusal: %v", err)
			require.Equal(t, tc.want, reason, "%v", err)
			require.NotContains(t, err.Error(), pdlSecret, "the detail never holds a secret")
		})
	}
}

// FuzzVerifyPaddle: no header or body panics the verifier, every failure
// is a refusal, and an accepted delivery carries an h1 of the endpoint's
// secret over exactly its ts and body.
func FuzzVerifyPaddle(f *testing.F) {
	f.Add("ts="+pdlTS+";h1="+pdlH1, []byte(pdlBody))
	f.Add("ts="+pdlTS+";h1="+pdlH1+";h1="+pdlH1, []byte(pdlBody))
	f.Add("ts=;h1=", []byte("{}"))
	f.Add(";;;", []byte(""))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_, err := paddleEndpoint().Verify(pdlHeader(header), body, pdlSent)
		if err != nil {
			_, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every error is a refusal: %v", err)
			return
		}
		var ts string
		var h1 []string
		for _, el := range strings.Split(header, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(el), "=")
			switch k {
			case "ts":
				ts = v
			case "h1":
				h1 = append(h1, v)
			}
		}
		require.Contains(t, h1, pdlSign(pdlSecret, ts, string(body)), "accepted without the secret's signature")
	})
}
