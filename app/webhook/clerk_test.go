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
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/rekomi/rekomi/app/webhook"
)

// The Standard Webhooks test vector, as the svix library's own tests use it.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var oldClerkSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("an older clerk signing key"))

const clerkBody = `{"data":{"id":"user_1"},"object":"event","type":"user.created"}`

// svixSign is the svix library's signature of body.
func svixSign(t *testing.T, secret, id string, unix int64, body string) string {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	sig, err := wh.Sign(id, time.Unix(unix, 0), []byte(body))
	require.NoError(t, err)
	return sig
}

// svixHeader spells the three headers with prefix "svix" or "webhook".
func svixHeader(prefix, id, timestamp, signature string) http.Header {
	h := http.Header{}
	for name, v := range map[string]string{"-id": id, "-timestamp": timestamp, "-signature": signature} {
		if v != "" {
			h.Set(prefix+name, v)
		}
	}
	return h
}

func TestVerifyClerk(t *testing.T) {
	t.Parallel()
	ep := webhook.Endpoint{Provider: webhook.ProviderClerk, Secrets: []string{oldClerkSecret, vectorSecret}, Tolerance: 300 * time.Second}
	now := testNow.Unix()
	ts := strconv.FormatInt(now, 10)
	good := svixSign(t, vectorSecret, "msg_1", now, clerkBody)
	at := func(unix int64) (string, string) {
		return strconv.FormatInt(unix, 10), svixSign(t, vectorSecret, "msg_1", unix, clerkBody)
	}
	past300, pastSig300 := at(now - 300)
	future300, futureSig300 := at(now + 300)
	past301, pastSig301 := at(now - 301)
	future301, futureSig301 := at(now + 301)
	cases := map[string]struct {
		header http.Header
		body   string
		want   webhook.Reason
	}{
		"svix headers":                               {header: svixHeader("svix", "msg_1", ts, good)},
		"Standard Webhooks headers":                  {header: svixHeader("webhook", "msg_1", ts, good)},
		"signed with the old secret during rotation": {header: svixHeader("svix", "msg_1", ts, svixSign(t, oldClerkSecret, "msg_1", now, clerkBody))},
		"one of several signatures matches":          {header: svixHeader("svix", "msg_1", ts, "v1,Zm9v "+good+" v2,bar")},
		"exactly the tolerance in the past":          {header: svixHeader("svix", "msg_1", past300, pastSig300)},
		"exactly the tolerance in the future":        {header: svixHeader("svix", "msg_1", future300, futureSig300)},
		"one second past the tolerance":              {header: svixHeader("svix", "msg_1", past301, pastSig301), want: webhook.ReasonStaleTimestamp},
		"one second ahead of the tolerance":          {header: svixHeader("svix", "msg_1", future301, futureSig301), want: webhook.ReasonFutureTimestamp},
		"no headers":                                 {header: http.Header{}, want: webhook.ReasonMissingHeader},
		"no id":                                      {header: svixHeader("svix", "", ts, good), want: webhook.ReasonMissingHeader},
		"no timestamp":                               {header: svixHeader("svix", "msg_1", "", good), want: webhook.ReasonMissingHeader},
		"no signature":                               {header: svixHeader("svix", "msg_1", ts, ""), want: webhook.ReasonMissingHeader},
		"a timestamp that is not digits":             {header: svixHeader("svix", "msg_1", "+"+ts, good), want: webhook.ReasonMalformedHeader},
		"an id with a control character":             {header: svixHeader("svix", "msg\x01", ts, good), want: webhook.ReasonMalformedHeader},
		"no v1 signature":                            {header: svixHeader("svix", "msg_1", ts, "v2,"+strings.TrimPrefix(good, "v1,")), want: webhook.ReasonMalformedHeader},
		"seventeen signatures":                       {header: svixHeader("svix", "msg_1", ts, strings.TrimSpace(strings.Repeat(good+" ", 17))), want: webhook.ReasonMalformedHeader},
		"signed with an unknown secret":              {header: svixHeader("svix", "msg_1", ts, svixSign(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("nobody's key")), "msg_1", now, clerkBody)), want: webhook.ReasonBadSignature},
		"a body changed after signing":               {header: svixHeader("svix", "msg_1", ts, good), body: strings.Replace(clerkBody, "user_1", "user_2", 1), want: webhook.ReasonBadSignature},
		"an id changed after signing":                {header: svixHeader("svix", "msg_2", ts, good), want: webhook.ReasonBadSignature},
		"a timestamp changed after signing":          {header: svixHeader("svix", "msg_1", strconv.FormatInt(now-1, 10), good), want: webhook.ReasonBadSignature},
		"signed but without a type":                  {header: svixHeader("svix", "msg_1", ts, svixSign(t, vectorSecret, "msg_1", now, `{"data":{}}`)), body: `{"data":{}}`, want: webhook.ReasonMalformedEvent},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := tc.body
			if body == "" {
				body = clerkBody
			}
			ev, err := ep.Verify(tc.header, []byte(body), testNow)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, webhook.Event{ID: "msg_1", Type: "user.created", Document: []byte(body)}, ev)
				return
			}
			reason, ok := webhook.ReasonOf(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.want, reason, "%v", err)
		})
	}
}

func TestStandardWebhooksTestVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, vectorSignature, svixSign(t, vectorSecret, vectorMsgID, vectorTimestamp, vectorPayload), "the library signs the vector as published")
	ep := webhook.Endpoint{Provider: webhook.ProviderClerk, Secrets: []string{vectorSecret}, Tolerance: 300 * time.Second}
	for _, prefix := range []string{"svix", "webhook"} {
		h := svixHeader(prefix, vectorMsgID, strconv.Itoa(vectorTimestamp), vectorSignature)
		_, err := ep.Verify(h, []byte(vectorPayload), time.Unix(vectorTimestamp, 0))
		reason, _ := webhook.ReasonOf(err)
		require.Equal(t, webhook.ReasonMalformedEvent, reason, "%s: the vector verifies; its payload is no Clerk event, having no type", prefix)

		_, err = ep.Verify(h, []byte(vectorPayload+" "), time.Unix(vectorTimestamp, 0))
		reason, _ = webhook.ReasonOf(err)
		require.Equal(t, webhook.ReasonBadSignature, reason, "%s: one more byte breaks it", prefix)
	}
}
