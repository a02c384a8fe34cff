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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/webhook"
)

// The Shopify vector was computed outside Go, with Python's hmac, hashlib
// and base64, not by the code under test:
//
//	base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest())
const (
	shopSecret = "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"
	shopBody   = `{"id":820982911946154508,"email":"jon@example.com","total_price":"49.00","currency":"EUR","landing_site":"/?ref=launch","discount_codes":[{"code":"SPRING","amount":"5.00"}]}`
	shopHmac   = "WZJkDN7SOOGGTiB7jHxut6UA2dRs9Jo8X4fgJg/NSF0="
	shopID     = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
)

var shopSent = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// shopSign signs body as Shopify does, written apart from the verifier.
func shopSign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func shopHeader(mac string, mutate ...func(http.Header)) http.Header {
	h := http.Header{}
	h.Set(webhook.ShopifyHmacHeader, mac)
	h.Set(webhook.ShopifyWebhookIDHeader, shopID)
	h.Set(webhook.ShopifyTopicHeader, "orders/paid")
	h.Set(webhook.ShopifyTriggeredAtHeader, "2026-12-04T09:00:00.877041743Z")
	for _, m := range mutate {
		m(h)
	}
	return h
}

func shopifyEndpoint(secrets ...string) webhook.Endpoint {
	if len(secrets) == 0 {
		secrets = []string{shopSecret}
	}
	return webhook.Endpoint{Provider: webhook.ProviderShopify, Secrets: secrets, Tolerance: 300 * time.Second}
}

func TestVerifyShopify(t *testing.T) {
	t.Parallel()

	t.Run("AcceptsTheVector", func(t *testing.T) {
		require.Equal(t, shopHmac, shopSign(shopSecret, shopBody), "the test's own signer agrees with the vector")
		ev, err := shopifyEndpoint().Verify(shopHeader(shopHmac), []byte(shopBody), shopSent.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, webhook.Event{ID: shopID, Type: "orders/paid", Document: []byte(shopBody)}, ev, "the webhook id is the event id a retry keeps")
	})

	t.Run("AcceptsAnyOfTheEndpointsSecrets", func(t *testing.T) {
		_, err := shopifyEndpoint("shpss_old", shopSecret).Verify(shopHeader(shopHmac), []byte(shopBody), shopSent)
		require.NoError(t, err)
	})

	// The signature covers the body alone: a delivery replayed with
	// another topic, id or time still verifies. The README says so; the
	// stored webhook id makes a replay with the same id a no-op.
	t.Run("TheSignatureCoversTheBodyOnly", func(t *testing.T) {
		ev, err := shopifyEndpoint().Verify(shopHeader(shopHmac, func(h http.Header) {
			h.Set(webhook.ShopifyTopicHeader, "refunds/create")
			h.Set(webhook.ShopifyWebhookIDHeader, "another-id")
		}), []byte(shopBody), shopSent)
		require.NoError(t, err)
		require.Equal(t, webhook.Event{ID: "another-id", Type: "refunds/create", Document: []byte(shopBody)}, ev)
	})

	t.Run("ToleranceEdgesBothWays", func(t *testing.T) {
		h := shopHeader(shopHmac, func(h http.Header) { h.Set(webhook.ShopifyTriggeredAtHeader, "2026-12-04T09:00:00Z") })
		for offset, want := range map[time.Duration]webhook.Reason{
			300 * time.Second: "", -300 * time.Second: "",
			301 * time.Second: webhook.ReasonStaleTimestamp, -301 * time.Second: webhook.ReasonFutureTimestamp,
		} {
			_, err := shopifyEndpoint().Verify(h, []byte(shopBody), shopSent.Add(offset))
			if want == "" {
				require.NoError(t, err, offset)
				continue
			}
			reason, _ := webhook.ReasonOf(err)
			require.Equal(t, want, reason, offset)
		}
	})

	wrong := []byte(shopHmac)
	wrong[0] ^= 1
	for name, tc := range map[string]struct {
		header http.Header
		body   string
		want   webhook.Reason
	}{
		"a body changed":           {shopHeader(shopHmac), shopBody + " ", webhook.ReasonBadSignature},
		"another secret's HMAC":    {shopHeader(shopSign("shpss_other", shopBody)), shopBody, webhook.ReasonBadSignature},
		"an HMAC changed":          {shopHeader(string(wrong)), shopBody, webhook.ReasonBadSignature},
		"an HMAC in hex":           {shopHeader("599264" + "0cdee938e1864e207b8c7c6eb7a500d9d46cf49a3c5f87e0226" + "0fcd485d"), shopBody, webhook.ReasonMalformedHeader},
		"no HMAC":                  {shopHeader(""), shopBody, webhook.ReasonMissingHeader},
		"no webhook id":            {shopHeader(shopHmac, func(h http.Header) { h.Del(webhook.ShopifyWebhookIDHeader) }), shopBody, webhook.ReasonMissingHeader},
		"no topic":                 {shopHeader(shopHmac, func(h http.Header) { h.Del(webhook.ShopifyTopicHeader) }), shopBody, webhook.ReasonMissingHeader},
		"no time":                  {shopHeader(shopHmac, func(h http.Header) { h.Del(webhook.ShopifyTriggeredAtHeader) }), shopBody, webhook.ReasonMissingHeader},
		"a time in another format": {shopHeader(shopHmac, func(h http.Header) { h.Set(webhook.ShopifyTriggeredAtHeader, "1796374800") }), shopBody, webhook.ReasonMalformedHeader},
		"a signed body that is not a JSON object": {shopHeader(shopSign(shopSecret, `[{"id":1}]`)), `[{"id":1}]`, webhook.ReasonMalformedEvent},
		"a signed body that is not JSON":          {shopHeader(shopSign(shopSecret, `{"id":`)), `{"id":`, webhook.ReasonMalformedEvent},
		"an id with a control character":          {shopHeader(shopHmac, func(h http.Header) { h.Set(webhook.ShopifyWebhookIDHeader, "a\x01b") }), shopBody, webhook.ReasonMalformedHeader},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := shopifyEndpoint().Verify(tc.header, []byte(tc.body), shopSent)
			reason, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every failure is a refusal: %v", err)
			require.Equal(t, tc.want, reason, "%v", err)
			require.NotContains(t, err.Error(), shopSecret, "the detail never holds a secret")
		})
	}
}

// FuzzVerifyShopify: no headers or body panic the verifier, every failure
// is a refusal, and an accepted delivery carries the secret's HMAC of
// exactly its body.
func FuzzVerifyShopify(f *testing.F) {
	f.Add(shopHmac, shopID, "orders/paid", "2026-12-04T09:00:00.877041743Z", []byte(shopBody))
	f.Add("", "", "", "", []byte(""))
	f.Add("====", "x", "y", "2026-12-04T09:00:00+01:00", []byte("{}"))
	f.Fuzz(func(t *testing.T, mac, id, topic, at string, body []byte) {
		h := http.Header{}
		h.Set(webhook.ShopifyHmacHeader, mac)
		h.Set(webhook.ShopifyWebhookIDHeader, id)
		h.Set(webhook.ShopifyTopicHeader, topic)
		h.Set(webhook.ShopifyTriggeredAtHeader, at)
		ev, err := shopifyEndpoint().Verify(h, body, shopSent)
		if err != nil {
			_, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every error is a refusal: %v", err)
			return
		}
		require.Equal(t, shopSign(shopSecret, string(body)), mac, "accepted without the secret's HMAC")
		require.Equal(t, webhook.Event{ID: id, Type: topic, Document: body}, ev)
	})
}
