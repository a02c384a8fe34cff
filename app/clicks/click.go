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
	"time"

	"github.com/google/uuid"

	"github.com/rekomi/rekomi/app/storable"
)

// Bounds of the stored text columns, in characters as the table's checks
// count them.
const (
	maxUserAgent = 1024
	maxReferrer  = 2048
)

// Click is one visit through a referral link, as the redirect saw it.
type Click struct {
	OrgID      uuid.UUID
	LinkID     uuid.UUID
	VisitorID  uuid.UUID
	OccurredAt time.Time
	// IP is the client's address; the zero Addr stores no address.
	IP        netip.Addr
	UserAgent string
	Referrer  string
}

// record is a click as it is stored: its address already truncated where
// the Region requires it, its text made storable, and its bot flag set.
type record struct {
	orgID, linkID, visitorID uuid.UUID
	occurredAt               time.Time
	ip                       *netip.Prefix
	userAgent, referrer      *string
	isBot                    bool
}

// newRecord prepares c for storage; truncateIP drops the host part of the
// address (EU Regions).
func newRecord(c Click, truncateIP bool) record {
	return record{
		orgID: c.OrgID, linkID: c.LinkID, visitorID: c.VisitorID, occurredAt: c.OccurredAt,
		ip:        storedIP(c.IP, truncateIP),
		userAgent: storableText(c.UserAgent, maxUserAgent),
		referrer:  storableText(c.Referrer, maxReferrer),
		isBot:     IsBot(c.UserAgent),
	}
}

// TruncateIP returns the network an address is stored as in an EU Region:
// its /24 for IPv4, its /48 for IPv6. An IPv4 address mapped into IPv6 is
// treated as IPv4.
func TruncateIP(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits) // bits is valid for the address's family
	return p
}

// storedIP is the address to store: nil for none, the network when
// truncated, the address alone otherwise.
func storedIP(ip netip.Addr, truncate bool) *netip.Prefix {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	p := netip.PrefixFrom(ip, ip.BitLen())
	if truncate {
		p = TruncateIP(ip)
	}
	return &p
}

// storableText is s made storable by storable.Text (the helper every
// header copied into the database goes through); nil when that is empty.
func storableText(s string, n int) *string {
	s = storable.Text(s, n)
	if s == "" {
		return nil
	}
	return &s
}

// botMarkers are substrings of a user agent, in lower case, that mark a
// client as automated rather than a person: crawlers and search bots
// ("bot", "crawler", "spider"), command-line and library HTTP clients,
// headless browsers, and the link previewers of chat and social apps, which
// fetch a link when it is pasted rather than when someone clicks it. A
// click flagged as a bot's is stored but never attributed.
var botMarkers = []string{
	"bot", "crawler", "spider", "slurp", "curl", "wget", "python-requests", "python-urllib", "aiohttp", "httpx",
	"go-http-client", "java/", "okhttp", "libwww-perl", "headless", "phantomjs", "preview", "facebookexternalhit",
	"slackbot", "discordbot", "whatsapp", "telegrambot", "embedly", "bingpreview", "lighthouse",
}

// IsBot reports whether a user agent is an automated client's: it is empty
// or contains one of the markers above, case-insensitively.
func IsBot(userAgent string) bool {
	ua := strings.ToLower(userAgent)
	if strings.TrimSpace(ua) == "" {
		return true
	}
	for _, m := range botMarkers {
		if strings.Contains(ua, m) {
			return true
		}
	}
	return false
}
