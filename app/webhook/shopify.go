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
	"encoding/base64"
	"net/http"
	"time"
)

// Shopify deliveries carry X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 of
// the raw body with the app's client secret (shopify.dev, "Verify
// webhooks"). The signature covers the body and nothing else: not the
// topic, not the webhook id, not X-Shopify-Triggered-At. So a captured
// delivery stays validly signed forever. What makes its replay harmless
// is the webhook id, stored once per organization and provider like
// every event id; the tolerance held on X-Shopify-Triggered-At only stops
// a replay that keeps that header as sent, and is not cryptographic.

// ProviderShopify is Shopify's provider name.
const ProviderShopify = "shopify"

// Shopify's delivery headers.
const (
	ShopifyHmacHeader        = "X-Shopify-Hmac-Sha256"
	ShopifyTopicHeader       = "X-Shopify-Topic"
	ShopifyWebhookIDHeader   = "X-Shopify-Webhook-Id"
	ShopifyTriggeredAtHeader = "X-Shopify-Triggered-At"
)

// verifyShopify checks a Shopify delivery: its HMAC under any of the
// endpoint's secrets, then X-Shopify-Triggered-At within the tolerance
// both ways. The event is the webhook id and the topic.
func (e Endpoint) verifyShopify(header http.Header, body []byte, now time.Time) (Event, error) {
	encoded := header.Get(ShopifyHmacHeader)
	id, topic, triggered := header.Get(ShopifyWebhookIDHeader), header.Get(ShopifyTopicHeader), header.Get(ShopifyTriggeredAtHeader)
	if encoded == "" || id == "" || topic == "" || triggered == "" {
		return Event{}, Refuse(ReasonMissingHeader, "the %s, %s, %s and %s headers are all required",
			ShopifyHmacHeader, ShopifyWebhookIDHeader, ShopifyTopicHeader, ShopifyTriggeredAtHeader)
	}
	got, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(got) != sha256.Size {
		return Event{}, Refuse(ReasonMalformedHeader, "%s is not %d bytes in base64", ShopifyHmacHeader, sha256.Size)
	}
	if !validText(id) || !validText(topic) {
		return Event{}, Refuse(ReasonMalformedHeader, "the webhook id and topic must be 1 to 255 characters of text")
	}
	at, err := time.Parse(time.RFC3339Nano, triggered)
	if err != nil {
		return Event{}, Refuse(ReasonMalformedHeader, "%s is not an RFC 3339 time", ShopifyTriggeredAtHeader)
	}
	signed := signedByAny(e.Secrets, func(secret string) bool {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return hmac.Equal(mac.Sum(nil), got)
	})
	if !signed {
		return Event{}, Refuse(ReasonBadSignature, "the HMAC matches none of the endpoint's %d secrets", len(e.Secrets))
	}
	if err := checkTimestamp(at.Unix(), now, e.Tolerance); err != nil {
		return Event{}, err
	}
	if !isJSONObject(body) {
		return Event{}, Refuse(ReasonMalformedEvent, "the body is not a JSON object")
	}
	return Event{ID: id, Type: topic, Document: body}, nil
}
