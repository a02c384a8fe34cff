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
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/clicks"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

const (
	browserUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15"
	// thirtyDays is the attribution window the redirect tests' campaigns
	// have, in seconds.
	thirtyDays = 30 * 24 * 60 * 60
)

// setupRedirects runs a server that believes X-Forwarded-For and
// X-Forwarded-Proto from loopback, as if behind a proxy there, and writes
// clicks every 10 ms.
func setupRedirects(t *testing.T, srv *dbtest.Server, mutate ...func(*config.Config)) *bundle {
	t.Helper()
	return setupRedirectsWith(t, srv, nil, mutate...)
}

// setupRedirectsWith is setupRedirects with more options for server.New.
func setupRedirectsWith(t *testing.T, srv *dbtest.Server, opts []server.Option, mutate ...func(*config.Config)) *bundle {
	t.Helper()
	base := func(c *config.Config) {
		c.MaxBodyBytes, c.PublicBaseURL = 4096, testBaseURL
		c.RateLimit, c.RateBurst = 1000, 1000
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	opts = append([]server.Option{server.WithClickBatching(clicks.Options{FlushInterval: 10 * time.Millisecond})}, opts...)
	return setupWith(t, srv, opts, append([]func(*config.Config){base}, mutate...)...)
}

// stop shuts the server down, which stores every click it answered.
func (b *bundle) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	require.NoError(t, <-b.done)
	b.done <- nil // for the cleanup
}

// noFollow is a client that returns redirects instead of following them,
// and keeps no cookies.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// follow sends GET /r/{code} as a browser, with extra header pairs.
func (b *bundle) follow(t *testing.T, code string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+"/r/"+code, nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", browserUA)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noFollow.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// visitorCookie returns the rk_vid cookie of an answer, or nil.
func visitorCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "rk_vid" {
			return c
		}
	}
	return nil
}

// referralLink creates, through the API, a link of an active affiliate in
// a campaign with a 30-day window, to destination.
func (s shop) referralLink(t *testing.T, destination string) linkJSON {
	t.Helper()
	affiliate := s.Affiliate(t, "aff-"+uuid.NewString()[:8]+"@partners.example", "active")
	campaign := s.Campaign(t, "attribution_window_days = 30")
	return s.linkTo(t, affiliate, campaign, destination)
}

func (s shop) linkTo(t *testing.T, affiliate, campaign uuid.UUID, destination string) linkJSON {
	t.Helper()
	var l linkJSON
	body := `{"affiliate_id":"` + affiliate.String() + `","campaign_id":"` + campaign.String() + `","destination_url":"` + destination + `"}`
	resp := s.b.call(t, http.MethodPost, "/v1/links", s.key, js, strings.NewReader(body), &l)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return l
}

// storedClick is a click row as the admin reads it.
type storedClick struct {
	org, visitor        uuid.UUID
	ip                  *string
	userAgent, referrer *string
	isBot               bool
}

// clicksOf reads the link's stored clicks as the admin, past row-level
// security.
func (b *bundle) clicksOf(t *testing.T, link uuid.UUID) []storedClick {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, `SELECT org_id, visitor_id, host(ip) || '/' || masklen(ip), user_agent, referrer, is_bot
		FROM clicks WHERE link_id = $1 ORDER BY id`, link)
	require.NoError(t, err)
	defer rows.Close()
	var out []storedClick
	for rows.Next() {
		var c storedClick
		require.NoError(t, rows.Scan(&c.org, &c.visitor, &c.ip, &c.userAgent, &c.referrer, &c.isBot))
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)

	t.Run("RedirectsWithTheCodeAndAVisitorCookie", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		s := b.seedShop(t, "")
		l := s.referralLink(t, "https://shop.example.com/pricing")
		resp := b.follow(t, l.Code, "Referer", "https://blog.example/best-tools", "X-Forwarded-For", "203.0.113.77")
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Equal(t, "https://shop.example.com/pricing?ref="+l.Code, resp.Header.Get("Location"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		require.Equal(t, "strict-origin-when-cross-origin", resp.Header.Get("Referrer-Policy"))
		c := visitorCookie(resp)
		require.NotNil(t, c)
		visitor, err := uuid.Parse(c.Value)
		require.NoError(t, err)
		require.Equal(t, thirtyDays, c.MaxAge, "the campaign's attribution window")
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		require.Equal(t, "/", c.Path)
		require.False(t, c.Secure, "served over plain HTTP")

		b.stop(t)
		stored := b.clicksOf(t, l.ID)
		require.Len(t, stored, 1)
		require.Equal(t, s.ID, stored[0].org)
		require.Equal(t, visitor, stored[0].visitor)
		require.Equal(t, browserUA, *stored[0].userAgent)
		require.Equal(t, "https://blog.example/best-tools", *stored[0].referrer)
		require.False(t, stored[0].isBot)
	})

	t.Run("KeepsTheDestinationsQueryAndFragment", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		s := b.seedShop(t, "")
		for destination, want := range map[string]string{
			"https://shop.example.com/p?utm_source=aff&a=%2F1#plans": "https://shop.example.com/p?utm_source=aff&a=%2F1&ref=CODE#plans",
			"https://shop.example.com/#top":                          "https://shop.example.com/?ref=CODE#top",
			"https://shop.example.com/p?ref=old&b=2":                 "https://shop.example.com/p?b=2&ref=CODE",
			"https://shop.example.com/p?#":                           "https://shop.example.com/p?ref=CODE#",
			"http://shop.example.com":                                "http://shop.example.com?ref=CODE",
		} {
			l := s.referralLink(t, destination)
			resp := b.follow(t, l.Code)
			require.Equal(t, http.StatusFound, resp.StatusCode)
			require.Equal(t, strings.ReplaceAll(want, "CODE", l.Code), resp.Header.Get("Location"), destination)
		}
	})

	t.Run("KeepsAValidVisitorCookieAndReplacesAMalformedOne", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		s := b.seedShop(t, "")
		l := s.referralLink(t, "https://shop.example.com/")
		known := uuid.New()
		resp := b.follow(t, l.Code, "Cookie", "rk_vid="+known.String())
		require.Equal(t, known.String(), visitorCookie(resp).Value)
		require.Equal(t, thirtyDays, visitorCookie(resp).MaxAge, "the window starts again")
		var replaced []string
		for _, bad := range []string{"not-a-uuid", uuid.Nil.String(), "{" + known.String() + "}", strings.ReplaceAll(known.String(), "-", "")} {
			resp := b.follow(t, l.Code, "Cookie", "rk_vid="+bad)
			v := visitorCookie(resp).Value
			id, err := uuid.Parse(v)
			require.NoError(t, err)
			require.NotEqual(t, known, id, bad)
			require.NotEqual(t, uuid.Nil, id)
			replaced = append(replaced, v)
		}
		b.stop(t)
		stored := b.clicksOf(t, l.ID)
		require.Len(t, stored, 5)
		require.Equal(t, known, stored[0].visitor)
		for i, v := range replaced {
			require.Equal(t, v, stored[i+1].visitor.String())
		}
	})

	t.Run("SetsSecureOnlyOverTLSAsATrustedProxySays", func(t *testing.T) {
		t.Parallel()
		trusting := setupRedirects(t, srv)
		l := trusting.seedShop(t, "").referralLink(t, "https://shop.example.com/")
		require.True(t, visitorCookie(trusting.follow(t, l.Code, "X-Forwarded-Proto", "https")).Secure)
		require.False(t, visitorCookie(trusting.follow(t, l.Code, "X-Forwarded-Proto", "http")).Secure)
		require.False(t, visitorCookie(trusting.follow(t, l.Code)).Secure)

		untrusting := setupRedirects(t, srv, func(c *config.Config) { c.TrustedProxies = nil })
		l = untrusting.seedShop(t, "").referralLink(t, "https://shop.example.com/")
		require.False(t, visitorCookie(untrusting.follow(t, l.Code, "X-Forwarded-Proto", "https")).Secure,
			"anyone may send the header; only a trusted proxy is believed")
	})

	t.Run("AnswersNotFoundWithoutCookieOrClick", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		s := b.seedShop(t, "")
		disabled := s.referralLink(t, "https://shop.example.com/")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/links/"+disabled.ID.String()+"/disable", s.key, "", nil, nil).StatusCode)
		suspended := s.referralLink(t, "https://shop.example.com/")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/affiliates/"+suspended.AffiliateID.String()+"/suspend", s.key, js,
			strings.NewReader(`{"reason":"Cookie stuffing"}`), nil).StatusCode)
		gone := b.seedShop(t, "")
		cancelled := gone.referralLink(t, "https://gone.example.com/")
		b.cancelOrg(t, gone.ID)

		for name, code := range map[string]string{
			"unknown": "no-such-code", "malformed": "a", "too long": strings.Repeat("x", 65), "disabled": disabled.Code,
			"suspended": suspended.Code, "cancelled": cancelled.Code,
		} {
			resp := b.follow(t, code)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, name)
			require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), name)
			require.Empty(t, resp.Header.Values("Set-Cookie"), name)
			require.Empty(t, resp.Header.Get("Location"), name)
		}
		b.stop(t)
		for _, l := range []linkJSON{disabled, suspended, cancelled} {
			require.Empty(t, b.clicksOf(t, l.ID))
		}
	})

	t.Run("DropsAChangedLinkFromTheCacheAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv, func(c *config.Config) { c.LinkCacheTTL = 10 * time.Minute })
		s := b.seedShop(t, "")
		l := s.referralLink(t, "https://shop.example.com/old")
		require.Equal(t, "https://shop.example.com/old?ref="+l.Code, b.follow(t, l.Code).Header.Get("Location"))

		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/v1/links/"+l.ID.String(), s.key, js,
			strings.NewReader(`{"destination_url":"https://shop.example.com/new"}`), nil).StatusCode)
		require.Equal(t, "https://shop.example.com/new?ref="+l.Code, b.follow(t, l.Code).Header.Get("Location"))

		path := "/v1/affiliates/" + l.AffiliateID.String()
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, path+"/suspend", s.key, js, strings.NewReader(`{"reason":"Spam"}`), nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.follow(t, l.Code).StatusCode, "the affiliate is suspended")
		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, path+"/approve", s.key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusFound, b.follow(t, l.Code).StatusCode, "approved again")

		require.Equal(t, http.StatusOK, b.call(t, http.MethodPatch, "/v1/campaigns/"+l.CampaignID.String(), s.key, js,
			strings.NewReader(`{"attribution":{"window_days":7}}`), nil).StatusCode)
		require.Equal(t, 7*24*60*60, visitorCookie(b.follow(t, l.Code)).MaxAge, "the campaign's new attribution window")

		require.Equal(t, http.StatusOK, b.call(t, http.MethodPost, "/v1/links/"+l.ID.String()+"/disable", s.key, "", nil, nil).StatusCode)
		require.Equal(t, http.StatusNotFound, b.follow(t, l.Code).StatusCode)
	})

	t.Run("SeesChangesFromElsewhereWithinTheTTL", func(t *testing.T) {
		t.Parallel()
		const ttl = 500 * time.Millisecond
		clock := newTestClock()
		b := setupRedirectsWith(t, srv, []server.Option{server.WithClock(clock.Now)}, func(c *config.Config) { c.LinkCacheTTL = ttl })
		s := b.seedShop(t, "")
		l := s.referralLink(t, "https://shop.example.com/")
		require.Equal(t, http.StatusFound, b.follow(t, l.Code).StatusCode)
		// As another replica would: the change does not go through this one.
		b.adminExec(t, `UPDATE referral_links SET disabled_at = now() WHERE id = $1`, l.ID)
		clock.Advance(ttl - time.Nanosecond)
		require.Equal(t, http.StatusFound, b.follow(t, l.Code).StatusCode, "cached")
		clock.Advance(time.Nanosecond)
		require.Equal(t, http.StatusNotFound, b.follow(t, l.Code).StatusCode, "read again after its TTL")
	})

	t.Run("RemembersUnknownCodesBriefly", func(t *testing.T) {
		t.Parallel()
		const ttl = 500 * time.Millisecond
		clock := newTestClock()
		b := setupRedirectsWith(t, srv, []server.Option{server.WithClock(clock.Now)}, func(c *config.Config) { c.LinkCacheTTL = ttl })
		s := b.seedShop(t, "")
		l := s.referralLink(t, "https://shop.example.com/")
		code := "late-" + uuid.NewString()[:8]
		require.Equal(t, http.StatusNotFound, b.follow(t, code).StatusCode)
		// The code appears behind this replica's back.
		b.adminExec(t, `UPDATE route_keys SET key = $1 WHERE kind = 'link_code' AND key = $2`, code, l.Code)
		b.adminExec(t, `UPDATE referral_links SET code = $1 WHERE id = $2`, code, l.ID)
		clock.Advance(ttl - time.Nanosecond)
		require.Equal(t, http.StatusNotFound, b.follow(t, code).StatusCode, "the miss is remembered, not looked up again")
		clock.Advance(time.Nanosecond)
		require.Equal(t, http.StatusFound, b.follow(t, code).StatusCode, "and forgotten after its TTL")

		// A link created through this replica is found at once.
		fresh := "fresh-" + uuid.NewString()[:8]
		require.Equal(t, http.StatusNotFound, b.follow(t, fresh).StatusCode)
		var created linkJSON
		body := `{"affiliate_id":"` + l.AffiliateID.String() + `","campaign_id":"` + l.CampaignID.String() +
			`","destination_url":"https://shop.example.com/","code":"` + fresh + `"}`
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/links", s.key, js, strings.NewReader(body), &created).StatusCode)
		require.Equal(t, http.StatusFound, b.follow(t, fresh).StatusCode)
	})

	t.Run("StoresTheIPAsTheRegionRequires", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			location   string
			ip, stored string
		}{
			{"eu", "203.0.113.77", "203.0.113.0/24"},
			{"eu", "2001:db8:abcd:12::9", "2001:db8:abcd::/48"},
			{"us", "203.0.113.77", "203.0.113.77/32"},
			{"us", "2001:db8:abcd:12::9", "2001:db8:abcd:12::9/128"},
		} {
			b := setupRedirects(t, srv, func(c *config.Config) { c.Region, c.Location = tc.location, tc.location })
			l := b.seedShop(t, "").referralLink(t, "https://shop.example.com/")
			require.Equal(t, http.StatusFound, b.follow(t, l.Code, "X-Forwarded-For", "198.51.100.1, "+tc.ip).StatusCode)
			b.stop(t)
			stored := b.clicksOf(t, l.ID)
			require.Len(t, stored, 1)
			require.Equal(t, tc.stored, *stored[0].ip, "%s %s", tc.location, tc.ip)
		}
	})

	t.Run("FlagsBotsAndRecordsNoClickForHEAD", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		l := b.seedShop(t, "").referralLink(t, "https://shop.example.com/")
		require.Equal(t, http.StatusFound, b.follow(t, l.Code).StatusCode)
		require.Equal(t, http.StatusFound, b.follow(t, l.Code, "User-Agent", "curl/8.5.0").StatusCode)
		require.Equal(t, http.StatusFound, b.follow(t, l.Code, "User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1)").StatusCode)
		req, err := http.NewRequest(http.MethodHead, b.base+"/r/"+l.Code, nil)
		require.NoError(t, err)
		resp, err := noFollow.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		b.stop(t)
		stored := b.clicksOf(t, l.ID)
		require.Len(t, stored, 3, "no click for the HEAD request")
		require.Equal(t, []bool{false, true, true}, []bool{stored[0].isBot, stored[1].isBot, stored[2].isBot})
	})

	t.Run("StoresEachOrganizationsClicksInItsOwn", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		shopA, shopB := b.seedShop(t, ""), b.seedShop(t, "")
		la, lb := shopA.referralLink(t, "https://a.example.com/"), shopB.referralLink(t, "https://b.example.com/")
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				code := la.Code
				if i%4 == 0 {
					code = lb.Code
				}
				req, err := http.NewRequest(http.MethodGet, b.base+"/r/"+code, nil)
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("User-Agent", browserUA)
				resp, err := noFollow.Do(req)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					errs <- fmt.Errorf("following %s: %s", code, resp.Status)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		b.stop(t)
		require.Equal(t, 30, shopA.Count(t, `SELECT count(*) FROM clicks WHERE link_id = $1`, la.ID))
		require.Equal(t, 10, shopB.Count(t, `SELECT count(*) FROM clicks WHERE link_id = $1`, lb.ID))
		require.Equal(t, 30, shopA.Count(t, `SELECT count(*) FROM clicks`), "A sees only its own clicks")
		require.Equal(t, 10, shopB.Count(t, `SELECT count(*) FROM clicks`), "B sees only its own clicks")
		require.Len(t, b.clicksOf(t, lb.ID), 10)
		for _, c := range b.clicksOf(t, lb.ID) {
			require.Equal(t, shopB.ID, c.org)
		}
	})

	t.Run("ShutdownUnderLoadLosesNoClick", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv, func(c *config.Config) { c.Location = "us" })
		l := b.seedShop(t, "").referralLink(t, "https://shop.example.com/")
		client := &http.Client{
			Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		defer client.CloseIdleConnections()
		var answered, other atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for {
					req, _ := http.NewRequest(http.MethodGet, b.base+"/r/"+l.Code, nil)
					req.Header.Set("User-Agent", browserUA)
					resp, err := client.Do(req)
					if err != nil {
						if answered.Load() > 0 {
							return // the server has stopped listening
						}
						continue
					}
					resp.Body.Close()
					if resp.StatusCode == http.StatusFound {
						answered.Add(1)
					} else {
						other.Add(1)
					}
				}
			})
		}
		require.Eventually(t, func() bool { return answered.Load() >= 500 }, 30*time.Second, time.Millisecond)
		b.stop(t)
		wg.Wait()
		require.Zero(t, other.Load())
		require.Len(t, b.clicksOf(t, l.ID), int(answered.Load()), "every answered redirect's click is stored")
	})

	t.Run("ExposesClickMetrics", func(t *testing.T) {
		t.Parallel()
		b := setupRedirects(t, srv)
		l := b.seedShop(t, "").referralLink(t, "https://shop.example.com/")
		require.Equal(t, http.StatusFound, b.follow(t, l.Code).StatusCode)
		require.Eventually(t, func() bool {
			resp, err := http.Get(b.metricsBase + "/metrics")
			require.NoError(t, err)
			defer resp.Body.Close()
			var sb strings.Builder
			_, _ = io.Copy(&sb, resp.Body)
			return strings.Contains(sb.String(), "rekomi_clicks_stored_total 1") &&
				strings.Contains(sb.String(), `rekomi_clicks_lost_total{reason="overflow"} 0`) &&
				strings.Contains(sb.String(), "rekomi_clicks_pending 0")
		}, 10*time.Second, 10*time.Millisecond)
	})
}
