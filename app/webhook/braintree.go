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
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Braintree webhook deliveries, verified as Braintree's published SDKs do
// (braintree_ruby, WebhookNotificationGateway#parse and
// Braintree::Digest.hexdigest; the same in braintree_python and
// braintree_php), since no Go SDK is served:
//
//   - the body is form-encoded: bt_signature and bt_payload;
//   - bt_payload is base64 (with line breaks) of an XML <notification> whose
//     <timestamp> is when Braintree sent it and <kind> its type; a payload
//     with any other character is refused;
//   - bt_signature is one or more "public_key|signature" pairs joined by
//     "&"; the pair naming the endpoint's public key must carry
//     hex(HMAC-SHA1(key = SHA1(private_key), bt_payload)), computed over
//     the payload as sent or with a "\n" appended, as the SDKs accept.
//
// HMAC-SHA1 is Braintree's choice; it remains a sound MAC. The signature
// covers the payload, and so the timestamp inside it, which gives the
// tolerance. A notification carries no id: its event id is the SHA-256 of
// the decoded XML, the same for every delivery of the same notification.

// ProviderBraintree is Braintree's provider name.
const ProviderBraintree = "braintree"

// A Braintree endpoint's secret is its API key pair, "public_key:private_key"
// (Braintree's keys are letters and digits).
const braintreeKeySeparator = ":"

// BraintreeSecret is the secret form of a Braintree key pair.
func BraintreeSecret(publicKey, privateKey string) string {
	return publicKey + braintreeKeySeparator + privateKey
}

// braintreeNotification is the part of the payload's XML that is read.
type braintreeNotification struct {
	XMLName   xml.Name `xml:"notification"`
	Timestamp string   `xml:"timestamp"`
	Kind      string   `xml:"kind"`
}

// verifyBraintree checks a Braintree delivery and returns its event.
func (e Endpoint) verifyBraintree(_ http.Header, body []byte, now time.Time) (Event, error) {
	signature, payload, err := parseBraintreeBody(body)
	if err != nil {
		return Event{}, err
	}
	pairs := strings.Split(signature, "&")
	if len(pairs) > maxSignatures {
		return Event{}, Refuse(ReasonMalformedHeader, "more than %d signature pairs", maxSignatures)
	}
	if !e.braintreeSigned(pairs, payload) {
		return Event{}, Refuse(ReasonBadSignature, "no signature pair matches any of the endpoint's %d key pairs", len(e.Secrets))
	}
	xmlBody, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(payload, "\n", ""))
	if err != nil {
		return Event{}, Refuse(ReasonMalformedEvent, "the payload is not base64")
	}
	var n braintreeNotification
	if err := xml.Unmarshal(xmlBody, &n); err != nil {
		return Event{}, Refuse(ReasonMalformedEvent, "the payload is not a notification: %s", err.Error())
	}
	sent, err := time.Parse(time.RFC3339, strings.TrimSpace(n.Timestamp))
	if err != nil {
		return Event{}, Refuse(ReasonMalformedEvent, "the notification's timestamp is not RFC 3339")
	}
	if err := checkTimestamp(sent.Unix(), now, e.Tolerance); err != nil {
		return Event{}, err
	}
	kind := strings.TrimSpace(n.Kind)
	if !validText(kind) {
		return Event{}, Refuse(ReasonMalformedEvent, "the notification has no kind")
	}
	sum := sha256.Sum256(xmlBody)
	doc, err := braintreeDocument(kind, sent, xmlBody)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: "bt_" + hex.EncodeToString(sum[:]), Type: kind, Document: doc}, nil
}

// braintreeDocument is the JSON form a Braintree notification is stored
// in: its kind, its signed timestamp and the decoded XML as sent, which
// the effects read. XML that is not UTF-8 or holds a NUL (which no XML
// may) cannot be stored as JSON text and is refused.
func braintreeDocument(kind string, sent time.Time, xmlBody []byte) ([]byte, error) {
	if !utf8.Valid(xmlBody) || bytes.IndexByte(xmlBody, 0) >= 0 {
		return nil, Refuse(ReasonMalformedEvent, "the notification is not UTF-8 text")
	}
	doc, err := json.Marshal(map[string]string{
		"kind": kind, "timestamp": sent.UTC().Format(time.RFC3339), "notification": string(xmlBody),
	})
	if err != nil {
		return nil, Refuse(ReasonMalformedEvent, "the notification cannot be stored: %s", err.Error())
	}
	return doc, nil
}

// parseBraintreeBody reads the form's one bt_signature and one bt_payload,
// and checks the payload's characters as the SDKs do.
func parseBraintreeBody(body []byte) (signature, payload string, err error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", "", Refuse(ReasonMalformedEvent, "the body is not form-encoded")
	}
	sigs, payloads := form["bt_signature"], form["bt_payload"]
	if len(sigs) != 1 || len(payloads) != 1 || sigs[0] == "" || payloads[0] == "" {
		return "", "", Refuse(ReasonMissingHeader, "the body needs exactly one bt_signature and one bt_payload")
	}
	if strings.ContainsFunc(payloads[0], func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '=' || r == '/' || r == '\n')
	}) {
		return "", "", Refuse(ReasonMalformedEvent, "the payload has characters base64 does not use")
	}
	return sigs[0], payloads[0], nil
}

// braintreeSigned reports whether a pair naming one of the endpoint's
// public keys carries that key pair's signature of payload. Every pair and
// key is compared, so the time taken does not say which matched.
func (e Endpoint) braintreeSigned(pairs []string, payload string) bool {
	return signedByAny(e.Secrets, func(secret string) bool {
		public, private, ok := strings.Cut(secret, braintreeKeySeparator)
		if !ok || public == "" || private == "" {
			return false // the operator checks the format; a bad one signs nothing
		}
		want := [2][]byte{braintreeSignature(private, payload), braintreeSignature(private, payload+"\n")}
		signed := false
		for _, pair := range pairs {
			if name, mac, ok := strings.Cut(pair, "|"); ok && name == public {
				signed = hmac.Equal([]byte(mac), want[0]) || hmac.Equal([]byte(mac), want[1]) || signed
			}
		}
		return signed
	})
}

// braintreeSignature is hex(HMAC-SHA1(SHA1(privateKey), payload)), lower
// case as Braintree sends it.
func braintreeSignature(privateKey, payload string) []byte {
	key := sha1.Sum([]byte(privateKey))
	mac := hmac.New(sha1.New, key[:])
	mac.Write([]byte(payload))
	return []byte(hex.EncodeToString(mac.Sum(nil)))
}
