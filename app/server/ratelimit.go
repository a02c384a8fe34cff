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
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyLimits holds one token bucket per key: an API key's id, or a client's
// address. Buckets idle for longer than idleAfter are dropped, so memory
// follows the keys in use.
type keyLimits[K comparable] struct {
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

func newKeyLimits[K comparable](perSecond float64, burst int) *keyLimits[K] {
	return &keyLimits[K]{perSecond: rate.Limit(perSecond), burst: burst, buckets: map[K]*bucket{}}
}

// allow takes a token for key; when none is left it says how long to wait.
func (k *keyLimits[K]) allow(key K, now time.Time) (time.Duration, bool) {
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

// retryAfter renders a wait as whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}
