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
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/rekomi/rekomi/app/config"
)

// maxMissTTL bounds how long an unknown code is remembered as unknown, so
// that a link created on another replica works there soon.
const maxMissTTL = 5 * time.Second

// maxStale bounds how long after its expiry a known code's link still
// answers while the database cannot be reached.
const maxStale = 10 * time.Minute

// linkRoute is what a referral code resolves to.
type linkRoute struct {
	orgID, linkID, affiliateID, campaignID uuid.UUID
	destination                            string
	// window is the campaign's attribution window.
	window time.Duration
	// disabled, suspended and cancelled: the link is disabled, its
	// affiliate suspended, its organization cancelled. Any of them makes
	// the code answer 404.
	disabled, suspended, cancelled bool
}

// redirects reports whether the code leads to the destination.
func (l linkRoute) redirects() bool { return !l.disabled && !l.suspended && !l.cancelled }

type cachedRoute struct {
	route   linkRoute
	expires time.Time
}

// linkCache keeps resolved codes, and separately unknown codes, in two
// size-bounded LRUs whose entries expire after their TTL, so that a flood
// of unknown codes can neither evict the known ones nor reach the database
// for the same code twice within the miss TTL. Lookups of one code at once
// share one database read. This process drops a code as soon as it
// changes it (evict); other replicas keep their copy until it expires.
// An expired link stays in the LRU: while the database cannot be reached,
// it still answers for maxStale (stale).
type linkCache struct {
	routes  *lru.Cache[string, cachedRoute]
	misses  *lru.Cache[string, time.Time]
	ttl     time.Duration
	missTTL time.Duration
	// gen counts evictions: a read that began before one does not store
	// its possibly stale answer, and no read joins one that began before.
	// mu makes put's check and store one step against evict.
	gen   atomic.Uint64
	mu    sync.Mutex
	loads singleflight.Group
}

func newLinkCache(size int, ttl time.Duration) *linkCache {
	if size < 1 || ttl <= 0 { // a Config that skipped Validate
		defaults := config.Defaults()
		size, ttl = defaults.LinkCacheSize, defaults.LinkCacheTTL
	}
	routes, err := lru.New[string, cachedRoute](size)
	if err != nil {
		panic("link cache: " + err.Error()) // size is validated positive
	}
	misses, err := lru.New[string, time.Time](size)
	if err != nil {
		panic("link cache: " + err.Error())
	}
	return &linkCache{routes: routes, misses: misses, ttl: ttl, missTTL: min(ttl, maxMissTTL)}
}

// get returns the code's route and whether the code exists; cached is false
// when the cache knows nothing of the code.
func (c *linkCache) get(code string, now time.Time) (route linkRoute, found, cached bool) {
	if e, ok := c.routes.Get(code); ok && now.Before(e.expires) {
		return e.route, true, true
	}
	if expires, ok := c.misses.Get(code); ok {
		if now.Before(expires) {
			return linkRoute{}, false, true
		}
		c.misses.Remove(code)
	}
	return linkRoute{}, false, false
}

// stale returns the code's link as last read, expired less than maxStale
// ago, for when the database cannot be reached.
func (c *linkCache) stale(code string, now time.Time) (linkRoute, bool) {
	e, ok := c.routes.Peek(code)
	if !ok || now.After(e.expires.Add(maxStale)) {
		return linkRoute{}, false
	}
	return e.route, true
}

// put stores what a read that began at generation gen found, unless an
// eviction happened since.
func (c *linkCache) put(code string, route linkRoute, found bool, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if found {
		c.routes.Add(code, cachedRoute{route: route, expires: now.Add(c.ttl)})
		return
	}
	c.routes.Remove(code) // a link gone is never answered stale
	c.misses.Add(code, now.Add(c.missTTL))
}

// evict drops a code, known or unknown.
func (c *linkCache) evict(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.routes.Remove(code)
	c.misses.Remove(code)
}

// evictAffiliate drops every code of an organization's affiliate.
func (c *linkCache) evictAffiliate(orgID, affiliateID uuid.UUID) {
	c.evictWhere(func(r linkRoute) bool { return r.orgID == orgID && r.affiliateID == affiliateID })
}

// evictCampaign drops every code of an organization's campaign.
func (c *linkCache) evictCampaign(orgID, campaignID uuid.UUID) {
	c.evictWhere(func(r linkRoute) bool { return r.orgID == orgID && r.campaignID == campaignID })
}

// evictWhere drops every known code whose route matches.
func (c *linkCache) evictWhere(match func(linkRoute) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, code := range c.routes.Keys() {
		if e, ok := c.routes.Peek(code); ok && match(e.route) {
			c.routes.Remove(code)
		}
	}
}
