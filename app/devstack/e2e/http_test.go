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

package e2e_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"
)

// httpTimeout gives up on an app that stops answering.
const httpTimeout = 30 * time.Second

// send sends req with a timeout, through the default transport.
func send(req *http.Request) (*http.Response, error) {
	return (&http.Client{Timeout: httpTimeout}).Do(req)
}

// merchant calls an app's merchant API with one organization's key.
type merchant struct {
	base, key string
}

// call sends body (JSON, unless empty) and returns the answer's status and
// body.
func (m merchant) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, m.base+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+m.key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := send(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// do calls the API, expects status want, and decodes the answer into out
// (when not nil).
func (m merchant) do(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	status, data := m.call(t, method, path, body)
	require.Equal(t, want, status, "%s %s: %s", method, path, data)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "%s %s: %s", method, path, data)
	}
}

// list reads the first page of a list, at most 100 objects, which must be
// all of it.
func list[T any](t *testing.T, m merchant, path string) []T {
	t.Helper()
	var page struct {
		Data    []T  `json:"data"`
		HasMore bool `json:"has_more"`
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	m.do(t, http.MethodGet, path+sep+"limit=100", "", http.StatusOK, &page)
	require.False(t, page.HasMore, "%s holds more than 100 objects", path)
	return page.Data
}

// browserUA makes a click count as a person's: the app stores clicks of
// command-line clients as bots and never attributes them.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64) rekomi-e2e"

// click follows a referral link as a browser does, keeping the cookie the
// app sets but not following its redirect; it returns the answer.
func click(t *testing.T, link string, jar http.CookieJar) *http.Response {
	t.Helper()
	browser := &http.Client{
		Jar:           jar,
		Timeout:       httpTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, link, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", browserUA)
	resp, err := browser.Do(req)
	require.NoError(t, err, "following %s", link)
	resp.Body.Close()
	return resp
}

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return jar
}

// cookie is the value of the jar's cookie name for rawURL, or "".
func cookie(t *testing.T, jar http.CookieJar, rawURL, name string) string {
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

// stripeEndpoint is a Stripe WebhookEndpoint as Stripe sees it: a URL and
// the signing secret.
type stripeEndpoint struct {
	url, secret string
}

// stripeEvent is an event as Stripe renders it for an endpoint on API
// version 2024-06-20, whose charges still name their invoice.
func stripeEvent(id, typ string, created int64, object map[string]any) []byte {
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

// deliver posts event signed as Stripe signs (Stripe-Signature: t=...,
// v1=...) and expects 200.
func (e stripeEndpoint) deliver(t *testing.T, event []byte) {
	t.Helper()
	status, answer := e.post(t, event)
	require.Equal(t, http.StatusOK, status, "delivering %s: %s", event, answer)
}

// post signs event as Stripe does and returns the endpoint's answer.
func (e stripeEndpoint) post(t *testing.T, event []byte) (int, []byte) {
	t.Helper()
	now := time.Now()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url, bytes.NewReader(event))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%x", now.Unix(), stripewebhook.ComputeSignature(now, event, e.secret)))
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	resp, err := send(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, answer
}

// metric reads the value of one series of an app's /metrics (served at
// metricsURL, apart from the app's public URL), given as
// written there without its labels' order mattering, e.g.
// `rekomi_webhook_deliveries_total{provider="stripe",outcome="new"}`. A
// series not (yet) exposed reads 0.
func metric(t *testing.T, metricsURL, series string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, metricsURL+"/metrics", nil)
	require.NoError(t, err)
	resp, err := send(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	want := seriesKey(series)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		if cut < 0 || seriesKey(line[:cut]) != want {
			continue
		}
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		require.NoError(t, err, line)
		return v
	}
	require.NoError(t, sc.Err())
	return 0
}

// seriesKey spells a series with its labels sorted.
func seriesKey(series string) string {
	name, labels, ok := strings.Cut(series, "{")
	if !ok {
		return series
	}
	pairs := strings.Split(strings.TrimSuffix(labels, "}"), ",")
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// waitMetric polls series until it reaches at least want.
func waitMetric(t *testing.T, metricsURL, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := metric(t, metricsURL, series)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want at least %v", series, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
