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

package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := New[string](1, 3) // one a second, bursts of three

	for range 3 {
		_, ok := l.Allow("a", now)
		require.True(t, ok, "the burst is allowed")
	}
	wait, ok := l.Allow("a", now)
	require.False(t, ok, "the fourth at once is refused")
	require.Equal(t, time.Second, wait)
	_, ok = l.Allow("b", now)
	require.True(t, ok, "each key has its own bucket")

	_, ok = l.Allow("a", now.Add(999*time.Millisecond))
	require.False(t, ok, "a refusal takes no token: the next one is due a second after the burst")
	_, ok = l.Allow("a", now.Add(time.Second))
	require.True(t, ok)

	later := now.Add(idleAfter + time.Minute)
	_, ok = l.Allow("c", later)
	require.True(t, ok)
	require.NotContains(t, l.buckets, "b", "an idle bucket is dropped")
	require.Contains(t, l.buckets, "c")
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                       "1",
		time.Millisecond:        "1",
		time.Second:             "1",
		1001 * time.Millisecond: "2",
		90 * time.Second:        "90",
	} {
		require.Equal(t, want, RetryAfter(d), d.String())
	}
}
