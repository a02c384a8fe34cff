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

package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"

	"github.com/rekomi/rekomi/app/billing"
	"github.com/rekomi/rekomi/app/webhook"
)

// FuzzVerifyDelivery drives the handler's verify path with any path
// provider, endpoint state, headers and body: nothing panics, every failure
// is a refusal with a reason, and an accepted delivery is for an enabled
// endpoint of the provider named, carrying exactly the body received.
func FuzzVerifyDelivery(f *testing.F) {
	const secret = "whsec_fuzz0123456789"
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{}}}`)
	sig := fmt.Sprintf("t=%d,v1=%x", now.Unix(), stripewebhook.ComputeSignature(now, body, secret))
	f.Add("stripe", true, false, sig, "", "", "", body)
	f.Add("clerk", true, false, sig, "", "", "", body)
	f.Add("stripe", true, true, sig, "", "", "", body)
	f.Add("clerk", false, false, "", "msg_1", strconv.FormatInt(now.Unix(), 10), "v1,AAAA", body)
	f.Add("stripe", true, false, "t=1,v1=00", "", "", "", []byte{})
	f.Fuzz(func(t *testing.T, provider string, stripe, disabled bool, stripeSig, svixID, svixTS, svixSig string, body []byte) {
		ep := storedEndpoint{provider: webhook.ProviderClerk, secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, tolerance: 300 * time.Second, disabled: disabled}
		if stripe {
			ep.provider, ep.secrets = webhook.ProviderStripe, []string{secret}
		}
		h := http.Header{}
		h.Set("Stripe-Signature", stripeSig)
		h.Set("svix-id", svixID)
		h.Set("svix-timestamp", svixTS)
		h.Set("svix-signature", svixSig)
		id := uuid.New()
		ev, err := verifyDelivery(provider, id, ep, h, body, now)
		if err != nil {
			_, ok := webhook.ReasonOf(err)
			require.True(t, ok, "every failure is a refusal: %v", err)
			return
		}
		require.False(t, disabled)
		require.Equal(t, ep.provider, provider)
		require.Equal(t, billing.Event{Provider: provider, EndpointID: id, EventID: ev.EventID, Type: ev.Type, Payload: body}, ev)
		require.True(t, bytes.Equal(body, ev.Payload))
		require.NotEmpty(t, ev.EventID)
		require.NotEmpty(t, ev.Type)
	})
}
