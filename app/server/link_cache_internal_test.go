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
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestLinkCacheStale keeps an expired link for when the database cannot
// be reached, for maxStale and no longer, and never a link evicted or
// found gone.
func TestLinkCacheStale(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	c := newLinkCache(10, 30*time.Second)
	route := linkRoute{orgID: uuid.New(), linkID: uuid.New(), destination: "https://shop.example/"}
	c.put("abc", route, true, c.gen.Load(), now)

	_, _, cached := c.get("abc", now.Add(31*time.Second))
	require.False(t, cached, "expired: read again")
	got, ok := c.stale("abc", now.Add(31*time.Second))
	require.True(t, ok)
	require.Equal(t, route, got)
	_, ok = c.stale("abc", now.Add(30*time.Second+maxStale+time.Second))
	require.False(t, ok, "no older than maxStale past its expiry")

	c.put("gone", route, true, c.gen.Load(), now)
	c.put("gone", linkRoute{}, false, c.gen.Load(), now.Add(time.Minute))
	_, ok = c.stale("gone", now.Add(time.Minute))
	require.False(t, ok, "a code found gone is never answered stale")

	c.put("changed", route, true, c.gen.Load(), now)
	c.evict("changed")
	_, ok = c.stale("changed", now.Add(time.Minute))
	require.False(t, ok, "a code this replica changed is never answered stale")
}
