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

package cluster_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/e2e/flow"
)

// serviceTransport sends the requests for a Region's public URL to the
// app's Service, as the ingress in front of it would (over plain HTTP,
// keeping the public Host), and any other request as it is.
type serviceTransport struct {
	public  *url.URL
	service string // host:port of the Service
	next    http.RoundTripper
}

func (s serviceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != s.public.Host {
		return s.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.URL.Scheme, r.URL.Host, r.Host = "http", s.service, s.public.Host
	return s.next.RoundTrip(r)
}

// regionClient is a client that reaches region's app at its public URL
// through its Service, never following redirects.
func (e *env) regionClient(t *testing.T, region string) *http.Client {
	t.Helper()
	namespace := e.kubectl.Get(t, "", "region/"+region, ".spec.namespace")
	public, err := url.Parse(e.kubectl.Get(t, "", "region/"+region, ".spec.app.publicBaseURL"))
	require.NoError(t, err)
	ip := e.kubectl.Get(t, namespace, "service/"+region+"-app", ".spec.clusterIP")
	port := e.kubectl.Get(t, namespace, "service/"+region+"-app", ".spec.ports[0].port")
	next := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection for each worker of the traffic: the default of 2
	// closes the others after each request, and hundreds of new
	// connections a second to one Service address exhaust the ephemeral
	// ports in TIME_WAIT ("cannot assign requested address").
	next.MaxIdleConnsPerHost = 64
	return &http.Client{
		Transport:     serviceTransport{public: public, service: ip + ":" + port, next: next},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// app is how the test reaches region's app: its public URL through its
// Service, its metrics summed over the pods running now.
func (e *env) app(t *testing.T, region string) flow.App {
	t.Helper()
	return flow.App{
		Client: e.regionClient(t, region),
		Metric: func(t testing.TB, series string) float64 {
			return flow.MetricsAt(e.metricsURLs(t, region)...)(t, series)
		},
	}
}

// metricsURLs are the /metrics of region's app pods as they are now.
func (e *env) metricsURLs(t testing.TB, region string) []string {
	t.Helper()
	var urls []string
	for _, ip := range e.appPods(t, region, ".status.podIP") {
		urls = append(urls, "http://"+ip+":9090/metrics")
	}
	return urls
}
