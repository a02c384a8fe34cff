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
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	cases := map[string]struct {
		peer, forwarded string
		trusted         []netip.Prefix
		want            string
	}{
		"the peer when no proxy is trusted":                 {"203.0.113.5:4000", "198.51.100.1", nil, "203.0.113.5"},
		"the peer when it is not a trusted proxy":           {"203.0.113.5:4000", "198.51.100.1", trusted, "203.0.113.5"},
		"the forwarded client behind a trusted proxy":       {"10.1.2.3:4000", "198.51.100.1", trusted, "198.51.100.1"},
		"the rightmost untrusted hop of a chain":            {"10.1.2.3:4000", "6.6.6.6, 198.51.100.1, 192.0.2.7", trusted, "198.51.100.1"},
		"the peer's view when a hop is malformed":           {"10.1.2.3:4000", "198.51.100.1, not-an-ip", trusted, "10.1.2.3"},
		"the leftmost hop when every hop is trusted":        {"10.1.2.3:4000", "10.9.9.9, 192.0.2.7", trusted, "10.9.9.9"},
		"an IPv4-mapped peer as IPv4":                       {"[::ffff:203.0.113.5]:4000", "", trusted, "203.0.113.5"},
		"an IPv6 client behind a trusted proxy":             {"10.1.2.3:4000", "2001:db8::1", trusted, "2001:db8::1"},
		"the trusted peer itself when nothing is forwarded": {"10.1.2.3:4000", "", trusted, "10.1.2.3"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.forwarded != "" {
				r.Header.Set("X-Forwarded-For", tc.forwarded)
			}
			require.Equal(t, netip.MustParseAddr(tc.want), clientIP(r, tc.trusted))
		})
	}
}
