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

package server_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
)

const hstsHeader = "Strict-Transport-Security"

func TestStrictTransportSecurity(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	trustLoopback := func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	b := setup(t, srv, trustLoopback)
	untrusting := setup(t, srv)

	t.Run("SentBehindATrustedProxyThatSaysHTTPS", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/v1/campaigns", "/admin/sign-in", "/r/nothing-here", "/no-such-route"} {
			resp := b.get(t, path, "X-Forwarded-Proto", "https")
			require.Equal(t, "max-age=31536000", resp.Header.Get(hstsHeader), path)
		}
	})

	t.Run("NotSentOverPlainHTTP", func(t *testing.T) {
		require.Empty(t, b.get(t, "/healthz").Header.Get(hstsHeader))
		require.Empty(t, b.get(t, "/healthz", "X-Forwarded-Proto", "http").Header.Get(hstsHeader))
		require.Empty(t, untrusting.get(t, "/healthz", "X-Forwarded-Proto", "https").Header.Get(hstsHeader),
			"an untrusted peer's X-Forwarded-Proto is ignored")
	})

	t.Run("SentOverTLS", func(t *testing.T) {
		ts := httptest.NewTLSServer(http.NotFoundHandler())
		certs, client := ts.TLS.Certificates, ts.Client()
		ts.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base := b.serveOn(t, tls.NewListener(ln, &tls.Config{Certificates: certs}), nil)
		resp, err := client.Get("https" + base[len("http"):] + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "max-age=31536000", resp.Header.Get(hstsHeader))
	})
}
