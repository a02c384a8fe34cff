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

// Package ratelimit holds token buckets per key (an API key's id, a
// client's address) for the HTTP handlers of app/server and its admin
// pages, and renders a wait as a Retry-After value. It keeps its buckets in
// memory, per process; it reads no clock of its own.
package ratelimit

import (
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits holds one token bucket per key. Buckets idle for longer than
// idleAfter are dropped, so memory follows the keys in use. It is safe for
// concurrent use.
type Limits[K comparable] struct {
	mu        sync.Mutex
	perSecond rate.Limit
	burst     int
	buckets   map[K]*bucket
	lastSweep time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

const idleAfter = 10 * time.Minute

// New returns limits of perSecond tokens a second per key, with bursts of
// up to burst.
func New[K comparable](perSecond float64, burst int) *Limits[K] {
	return &Limits[K]{perSecond: rate.Limit(perSecond), burst: burst, buckets: map[K]*bucket{}}
}

// Allow takes a token for key at now; when none is left it says how long
// to wait.
func (k *Limits[K]) Allow(key K, now time.Time) (time.Duration, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.lastSweep) > idleAfter {
		for id, b := range k.buckets {
			if now.Sub(b.lastSeen) > idleAfter {
				delete(k.buckets, id)
			}
		}
		k.lastSweep = now
	}
	b, ok := k.buckets[key]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(k.perSecond, k.burst)}
		k.buckets[key] = b
	}
	b.lastSeen = now
	r := b.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// RetryAfter renders a wait as whole seconds, rounded up, at least 1: the
// value of a Retry-After header.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}
