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
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"
)

// refusalSamples is how many requests of each refusal class the benchmark
// times at least.
const refusalSamples = 1000

// BenchmarkWebhookRefusals times, one request at a time and alternating,
// deliveries refused for two reasons an attacker would like to tell apart:
// a known endpoint with a bad signature, and an endpoint id that does not
// exist. Both answer the same empty 401; it reports each median latency and
// their ratio, unknown / known (the goal is within 0.9 to 1.1).
func BenchmarkWebhookRefusals(b *testing.B) {
	_, ts, eps := startWebhookBench(b)
	known := eps[0].id
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}

	refuse := func(endpoint uuid.UUID) time.Duration {
		body := benchStripeEvent("evt_"+uuid.NewString(), "invoice.paid")
		now := time.Now()
		req, err := http.NewRequest(http.MethodPost, ts.URL+"/webhooks/stripe/"+endpoint.String(), strings.NewReader(string(body)))
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", fmt.Sprintf("t=%d,v1=%x", now.Unix(), stripewebhook.ComputeSignature(now, body, "whsec_not_the_endpoints")))
		began := time.Now()
		resp, err := client.Do(req)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		require.Equal(b, http.StatusUnauthorized, resp.StatusCode)
		return took
	}
	refuse(known) // the connection is open for both
	var knownTimes, unknownTimes []time.Duration
	n := max(b.N, refusalSamples)
	b.ResetTimer()
	for range n {
		knownTimes = append(knownTimes, refuse(known))
		unknownTimes = append(unknownTimes, refuse(uuid.New()))
	}
	b.StopTimer()
	k, u := median(knownTimes), median(unknownTimes)
	b.ReportMetric(float64(k.Microseconds()), "known-bad-signature-median-us")
	b.ReportMetric(float64(u.Microseconds()), "unknown-endpoint-median-us")
	b.ReportMetric(u.Seconds()/k.Seconds(), "unknown/known")
}

func median(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}
