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

package clicks

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsBot(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ua  string
		bot bool
	}{
		"a desktop browser is a person":   {ua: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},
		"a phone browser is a person":     {ua: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile/15E148 Safari/604.1"},
		"Googlebot is a bot":              {ua: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", bot: true},
		"curl is a bot":                   {ua: "curl/8.5.0", bot: true},
		"python-requests is a bot":        {ua: "python-requests/2.32.3", bot: true},
		"headless Chrome is a bot":        {ua: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36", bot: true},
		"Slack's link preview is a bot":   {ua: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", bot: true},
		"Facebook's crawler is a bot":     {ua: "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", bot: true},
		"a spider in capitals is a bot":   {ua: "Baiduspider-render/2.0 SPIDER", bot: true},
		"no user agent at all is a bot":   {ua: "", bot: true},
		"a blank user agent is a bot":     {ua: "   ", bot: true},
		"wget is a bot":                   {ua: "Wget/1.21.4", bot: true},
		"a previewer that says so is one": {ua: "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", bot: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.bot, IsBot(tc.ua))
		})
	}
}

func TestStoredIP(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ip       string
		truncate bool
		want     string
	}{
		"IPv4 in full outside the EU": {ip: "203.0.113.77", want: "203.0.113.77/32"},
		"IPv4 to its /24 in the EU":   {ip: "203.0.113.77", truncate: true, want: "203.0.113.0/24"},
		"IPv6 in full outside the EU": {ip: "2001:db8:abcd:12:1:2:3:4", want: "2001:db8:abcd:12:1:2:3:4/128"},
		"IPv6 to its /48 in the EU":   {ip: "2001:db8:abcd:12:1:2:3:4", truncate: true, want: "2001:db8:abcd::/48"},
		"IPv4 mapped in IPv6 is IPv4": {ip: "::ffff:198.51.100.9", truncate: true, want: "198.51.100.0/24"},
		"a zone is not stored":        {ip: "fe80::1%eth0", want: "fe80::1/128"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := storedIP(netip.MustParseAddr(tc.ip), tc.truncate)
			require.NotNil(t, got)
			require.Equal(t, tc.want, got.String())
		})
	}
	require.Nil(t, storedIP(netip.Addr{}, true), "no address stores none")
}

func TestStorableText(t *testing.T) {
	t.Parallel()
	require.Nil(t, storableText("", 10))
	require.Equal(t, "ab\uFFFDc", *storableText("ab\xffc\x00", 10), "invalid UTF-8 is replaced and NUL dropped")
	long := strings.Repeat("é", maxUserAgent+1) // 2,050 bytes
	require.Equal(t, strings.Repeat("é", maxUserAgent), *storableText(long, maxUserAgent),
		"cut after as many characters as the column allows")
	require.Equal(t, strings.Repeat("a\uFFFD", maxReferrer/2), *storableText(strings.Repeat("a\xff\xfe", maxReferrer), maxReferrer),
		"cut on a character boundary after replacing")
}
