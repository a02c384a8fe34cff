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

package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"
)

// httpTimeout gives up on an app that stops answering.
const httpTimeout = 30 * time.Second

// send sends req through client, with a timeout of httpTimeout unless
// client has one of its own.
func send(client *http.Client, req *http.Request) (*http.Response, error) {
	if client == nil {
		return nil, errors.New("no HTTP client to reach the app with: set App.Client")
	}
	c := *client
	if c.Timeout == 0 {
		c.Timeout = httpTimeout
	}
	return c.Do(req)
}

// Merchant calls an app's merchant API with one organization's key.
type Merchant struct {
	// Base is the app's public URL, e.g. the Region's
	// spec.app.publicBaseURL; Key is the organization's API key.
	Base, Key string
	// Client carries the requests to Base.
	Client *http.Client
}

// Call sends body (JSON, unless empty) and returns the answer's status and
// body.
func (m Merchant) Call(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, m.Base+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+m.Key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := send(m.Client, req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// Do calls the API, expects status want, and decodes the answer into out
// (when not nil).
func (m Merchant) Do(t testing.TB, method, path, body string, want int, out any) {
	t.Helper()
	status, data := m.Call(t, method, path, body)
	require.Equal(t, want, status, "%s %s: %s", method, path, data)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "%s %s: %s", method, path, data)
	}
}

// List reads the first page of a list, at most 100 objects, which must be
// all of it.
func List[T any](t testing.TB, m Merchant, path string) []T {
	t.Helper()
	var page struct {
		Data    []T  `json:"data"`
		HasMore bool `json:"has_more"`
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	m.Do(t, http.MethodGet, path+sep+"limit=100", "", http.StatusOK, &page)
	require.False(t, page.HasMore, "%s holds more than 100 objects", path)
	return page.Data
}

// browserUA makes a click count as a person's: the app stores clicks of
// command-line clients as bots and never attributes them.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64) rekomi-e2e"

// Click follows a referral link through client as a browser does,
// keeping the cookie the app sets in jar but not following its redirect;
// it returns the answer, whose body is closed.
func Click(t testing.TB, client *http.Client, link string, jar http.CookieJar) *http.Response {
	t.Helper()
	require.NotNil(t, client, "no HTTP client to follow %s with", link)
	browser := *client
	browser.Jar = jar
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", browserUA)
	resp, err := send(&browser, req)
	require.NoError(t, err, "following %s", link)
	resp.Body.Close()
	return resp
}

// NewJar is an empty cookie jar, a browser's for one visitor.
func NewJar(t testing.TB) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return jar
}

// Cookie is the value of the jar's cookie name for rawURL, or "".
func Cookie(t testing.TB, jar http.CookieJar, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	for _, c := range jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// StripeEndpoint is a Stripe WebhookEndpoint as Stripe sees it: a URL and
// the signing secret.
type StripeEndpoint struct {
	// URL is where the operator publishes the endpoint (its status.url);
	// Secret signs the deliveries.
	URL, Secret string
	// Client carries the deliveries to URL.
	Client *http.Client
}

// StripeEvent is an event as Stripe renders it for an endpoint on API
// version 2024-06-20, whose charges still name their invoice.
func StripeEvent(id, typ string, created int64, object map[string]any) []byte {
	body, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2024-06-20", "created": created, "livemode": false,
		"type": typ, "data": map[string]any{"object": object}, "pending_webhooks": 1,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
	})
	if err != nil {
		panic(err) // maps of strings and numbers always encode
	}
	return body
}

// Deliver posts event signed as Stripe signs (Stripe-Signature: t=...,
// v1=...) and expects 200.
func (e StripeEndpoint) Deliver(t testing.TB, event []byte) {
	t.Helper()
	status, answer := e.Post(t, event)
	require.Equal(t, http.StatusOK, status, "delivering %s: %s", event, answer)
}

// Post signs event as Stripe does and returns the endpoint's answer.
func (e StripeEndpoint) Post(t testing.TB, event []byte) (int, []byte) {
	t.Helper()
	now := time.Now()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL, bytes.NewReader(event))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%x", now.Unix(), stripewebhook.ComputeSignature(now, event, e.Secret)))
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	resp, err := send(e.Client, req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, answer
}
