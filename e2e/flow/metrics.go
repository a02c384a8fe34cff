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
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// App is how a test reaches a Region's app.
type App struct {
	// Client carries every request of the flow (API calls, link clicks,
	// webhook deliveries) to the app's public URLs, as the Region and the
	// operator publish them. Its Transport may route them elsewhere, to a
	// Service for instance; redirects are never followed on a click.
	Client *http.Client
	// Metric reads the value of one series of the app's metrics, summed
	// over its replicas, as [MetricsAt] does; a series not (yet) exposed
	// reads 0.
	Metric func(t testing.TB, series string) float64
}

// WaitMetric polls series through a.Metric until it reaches at least
// want.
func (a App) WaitMetric(t testing.TB, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := a.Metric(t, series)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v, want at least %v", series, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MetricsAt reads a series as the sum of its values at each of urls, the
// full URLs of /metrics endpoints (e.g. http://127.0.0.1:9090/metrics),
// one per replica of an app, apart from the app's public URL. They are
// fetched with a plain client, not an App's.
func MetricsAt(urls ...string) func(t testing.TB, series string) float64 {
	client := &http.Client{Timeout: httpTimeout}
	return func(t testing.TB, series string) float64 {
		t.Helper()
		require.NotEmpty(t, urls, "no /metrics URL to read %s at", series)
		var sum float64
		for _, u := range urls {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			require.NoError(t, err)
			resp, err := send(client, req)
			require.NoError(t, err, "GET %s", u)
			v, err := readMetric(resp, series)
			require.NoError(t, err, "reading %s at %s", series, u)
			sum += v
		}
		return sum
	}
}

// readMetric reads series from a /metrics answer, which it closes.
func readMetric(resp *http.Response, series string) (float64, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d, want %d", resp.StatusCode, http.StatusOK)
	}
	return ParseMetric(resp.Body, series)
}

// ParseMetric reads the value of one series of a /metrics body in the
// Prometheus text format, the series given as written there without its
// labels' order mattering, e.g.
// `rekomi_webhook_deliveries_total{provider="stripe",outcome="new"}`. A
// series not (yet) exposed reads 0.
func ParseMetric(body io.Reader, series string) (float64, error) {
	want := seriesKey(series)
	sc := bufio.NewScanner(body)
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
		if err != nil {
			return 0, fmt.Errorf("%s: %w", line, err)
		}
		return v, nil
	}
	return 0, sc.Err()
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
