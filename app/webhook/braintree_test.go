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
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/webhook"
)

// The Braintree vector was computed outside Go, with Python's hmac,
// hashlib and base64 (base64.encodebytes, which breaks lines every 76
// characters and ends with one), not by the code under test:
//
//	key = hashlib.sha1(b"integration_private_key").digest()
//	hmac.new(key, payload, hashlib.sha1).hexdigest()
const (
	btPublic  = "integration_public_key"
	btPrivate = "integration_private_key"
	btPayload = "PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz4KPG5vdGlmaWNhdGlvbj4KICA8\n" +
		"dGltZXN0YW1wIHR5cGU9ImRhdGV0aW1lIj4yMDI2LTEyLTA0VDA5OjAwOjAwWjwvdGltZXN0YW1w\n" +
		"PgogIDxraW5kPnN1YnNjcmlwdGlvbl9jaGFyZ2VkX3N1Y2Nlc3NmdWxseTwva2luZD4KICA8c3Vi\n" +
		"amVjdD4KICAgIDxzdWJzY3JpcHRpb24+CiAgICAgIDxpZD5zdWJfMTwvaWQ+CiAgICA8L3N1YnNj\n" +
		"cmlwdGlvbj4KICA8L3N1YmplY3Q+Cjwvbm90aWZpY2F0aW9uPgo=\n"
	// btSignature signs btPayload as sent; btSignatureTrimmed signs it
	// without its last "\n".
	btSignature        = "ab58a3dc2676fd2f99f2d33707cd2c8981af2840"
	btSignatureTrimmed = "5d923738e2b4f0394369e1c102b0f4cc5c249658"
	// btEventID is "bt_" and the SHA-256 of the decoded XML.
	btEventID = "bt_8a3f9692496eb82e6dff9d76e38d4e6d0531646c987fabe03705b694fc0b5c50"
)

// btSent is the notification's timestamp.
var btSent = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func btBody(signature, payload string) []byte {
	return []byte(url.Values{"bt_signature": {signature}, "bt_payload": {payload}}.Encode())
}

// btSign signs payload as Braintree does, written apart from the verifier.
func btSign(private, payload string) string {
	k := sha1.Sum([]byte(private))
	m := hmac.New(sha1.New, k[:])
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// btNotification is the payload of an XML notification, line-broken.
func btNotification(xml string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(xml))
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n")
	return b.String()
}

// btXML is a notification of kind sent at btSent.
func btXML(kind string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><notification><timestamp type="datetime">2026-12-04T09:00:00Z</timestamp><kind>` +
		kind + `</kind><subject></subject></notification>`
}

func braintreeEndpoint(secrets ...string) webhook.Endpoint {
	if len(secrets) == 0 {
		secrets = []string{webhook.BraintreeSecret(btPublic, btPrivate)}
	}
	return webhook.Endpoint{Provider: webhook.ProviderBraintree, Secrets: secrets, Tolerance: 300 * time.Second}
}

func TestVerifyBraintree(t *testing.T) {
	t.Parallel()

	t.Run("AcceptsThePublishedAlgorithmsVector", func(t *testing.T) {
		require.Equal(t, btSignature, btSign(btPrivate, btPayload), "the test's own signer agrees with the vector")
		ev, err := braintreeEndpoint().Verify(nil, btBody(btPublic+"|"+btSignature, btPayload), btSent.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, btEventID, ev.ID)
		require.Equal(t, "subscription_charged_successfully", ev.Type)
		xml, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(btPayload, "\n", ""))
		require.NoError(t, err)
		want, err := json.Marshal(map[string]string{"kind": "subscription_charged_successfully", "timestamp": "2026-12-04T09:00:00Z", "notification": string(xml)})
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(ev.Document), "stored as its kind, signed time and XML")
	})

	t.Run("RefusesANotificationThatCannotBeStoredAsText", func(t *testing.T) {
		for name, xml := range map[string]string{
			"a NUL after the notification": btXML("check") + "\x00",
			"bytes that are not UTF-8":     btXML("check") + "<!-- \xff -->",
		} {
			payload := btNotification(xml)
			_, err := braintreeEndpoint().Verify(nil, btBody(btPublic+"|"+btSign(btPrivate, payload), payload), btSent)
			reason, _ := webhook.ReasonOf(err)
			require.Equal(t, webhook.ReasonMalformedEvent, reason, "%s: %v", name, err)
		}
	})

	t.Run("AcceptsTheSignatureWithOrWithoutTheTrailingLineBreak", func(t *testing.T) {
		trimmed := strings.TrimSuffix(btPayload, "\n")
		for name, body := range map[string][]byte{
			"payload sent without it, signed with it":    btBody(btPublic+"|"+btSignature, trimmed),
			"payload sent without it, signed without it": btBody(btPublic+"|"+btSignatureTrimmed, trimmed),
		} {
			ev, err := braintreeEndpoint().Verify(nil, body, btSent)
			require.NoError(t, err, name)
			require.Equal(t, btEventID, ev.ID, name)
		}
	})

	t.Run("AcceptsAnyOfTheEndpointsKeyPairsDuringARotation", func(t *testing.T) {
		ep := braintreeEndpoint(webhook.BraintreeSecret("old_public", "old_private"), webhook.BraintreeSecret(btPublic, btPrivate))
		sig := "other_public|" + strings.Repeat("0", 40) + "&" + btPublic + "|" + btSignature
		_, err := ep.Verify(nil, btBody(sig, btPayload), btSent)
		require.NoError(t, err)
		sig = "old_public|" + btSign("old_private", btPayload)
		_, err = ep.Verify(nil, btBody(sig, btPayload), btSent)
		require.NoError(t, err)
	})

	t.Run("ToleranceEdgesBothWays", func(t *testing.T) {
		body := btBody(btPublic+"|"+btSignature, btPayload)
		for offset, want := range map[time.Duration]webhook.Reason{
			300 * time.Second: "", -300 * time.Second: "",
			301 * time.Second: webhook.ReasonStaleTimestamp, -301 * time.Second: webhook.ReasonFutureTimestamp,
		} {
			_, err := braintreeEndpoint().Verify(nil, body, btSent.Add(offset))
			if want == "" {
				require.NoError(t, err, offset)
				continue
			}
			reason, ok := webhook.ReasonOf(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, want, reason, offset)
		}
	})

	flipped := []byte(btSignature)
	flipped[0] ^= 1
	changed := strings.Replace(btPayload, "PD94", "PD95", 1)
	notXML := btNotification("not a notification")
	noKind := btNotification(`<notification><timestamp type="datetime">2026-12-04T09:00:00Z</timestamp></notification>`)
	for name, tc := range map[string]struct {
		body []byte
		want webhook.Reason
	}{
		"a signature changed":                  {btBody(btPublic+"|"+string(flipped), btPayload), webhook.ReasonBadSignature},
		"a payload changed":                    {btBody(btPublic+"|"+btSignature, changed), webhook.ReasonBadSignature},
		"another public key's pair":            {btBody("other_public|"+btSignature, btPayload), webhook.ReasonBadSignature},
		"signed with another private key":      {btBody(btPublic+"|"+btSign("other_private", btPayload), btPayload), webhook.ReasonBadSignature},
		"a signature in upper case":            {btBody(btPublic+"|"+strings.ToUpper(btSignature), btPayload), webhook.ReasonBadSignature},
		"a pair without its bar":               {btBody(btPublic+btSignature, btPayload), webhook.ReasonBadSignature},
		"17 pairs":                             {btBody(strings.Repeat("x|y&", 16)+btPublic+"|"+btSignature, btPayload), webhook.ReasonMalformedHeader},
		"a payload with a space":               {btBody(btPublic+"|"+btSignature, "PD94 "+btPayload), webhook.ReasonMalformedEvent},
		"no payload":                           {[]byte("bt_signature=" + btPublic + "%7C" + btSignature), webhook.ReasonMissingHeader},
		"two signatures":                       {append(btBody(btPublic+"|"+btSignature, btPayload), []byte("&bt_signature=x%7Cy")...), webhook.ReasonMissingHeader},
		"a JSON body":                          {[]byte(`{"bt_signature":"x","bt_payload":"y"}`), webhook.ReasonMissingHeader},
		"a body that is not a form":            {[]byte("bt_payload=%zz"), webhook.ReasonMalformedEvent},
		"a signed payload that is not XML":     {btBody(btPublic+"|"+btSign(btPrivate, notXML), notXML), webhook.ReasonMalformedEvent},
		"a signed notification without a kind": {btBody(btPublic+"|"+btSign(btPrivate, noKind), noKind), webhook.ReasonMalformedEvent},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := braintreeEndpoint().Verify(nil, tc.body, btSent)
			reason, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every failure is a refusal: %v", err)
			require.Equal(t, tc.want, reason, "%v", err)
			require.NotContains(t, err.Error(), btPrivate, "the detail never holds a secret")
		})
	}

	t.Run("AKeyPairWithoutItsSeparatorSignsNothing", func(t *testing.T) {
		_, err := braintreeEndpoint(btPublic+btPrivate).Verify(nil, btBody(btPublic+"|"+btSignature, btPayload), btSent)
		reason, _ := webhook.ReasonOf(err)
		require.Equal(t, webhook.ReasonBadSignature, reason)
	})
}

// FuzzVerifyBraintree: no body panics the verifier, every failure is a
// refusal with a reason, and an accepted body carries a pair the
// endpoint's key signed.
func FuzzVerifyBraintree(f *testing.F) {
	f.Add(btBody(btPublic+"|"+btSignature, btPayload))
	f.Add(btBody(btPublic+"|"+btSignatureTrimmed, strings.TrimSuffix(btPayload, "\n")))
	f.Add(btBody("a|b&"+btPublic+"|"+btSignature, btPayload))
	f.Add([]byte("bt_signature=&bt_payload="))
	f.Add([]byte("bt_payload=%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := braintreeEndpoint().Verify(nil, body, btSent)
		if err != nil {
			_, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every error is a refusal: %v", err)
			return
		}
		form, perr := url.ParseQuery(string(body))
		require.NoError(t, perr)
		payload := form.Get("bt_payload")
		want := []string{btSign(btPrivate, payload), btSign(btPrivate, payload+"\n")}
		signed := false
		for _, pair := range strings.Split(form.Get("bt_signature"), "&") {
			if name, mac, ok := strings.Cut(pair, "|"); ok && name == btPublic && (mac == want[0] || mac == want[1]) {
				signed = true
			}
		}
		require.True(t, signed, "accepted without the key's signature")
		require.True(t, strings.HasPrefix(ev.ID, "bt_"))
		require.NotEmpty(t, ev.Type)
		require.True(t, json.Valid(ev.Document), "the document is JSON")
	})
}
