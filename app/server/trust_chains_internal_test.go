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

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/trust"
)

// TestChainCheckGoesStale checks that a chain check that stopped finishing
// does not leave its last success standing on /trust.
func TestChainCheckGoesStale(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	s := &Server{cfg: config.Config{AuditWitnessDir: "/etc/rekomi/audit-witness"}, now: func() time.Time { return now }}
	s.chains = chainCheck{s: s, interval: 10 * time.Minute}
	at := now.Add(-20 * time.Minute)
	s.chains.last.Store(&trust.AuditChains{Witnessed: true, CheckedAt: &at, Checked: 3})
	require.Empty(t, s.chains.latest().Error, "two intervals and a minute have not passed")

	now = now.Add(2 * time.Minute)
	got := s.chains.latest()
	require.Equal(t, "no check has finished since 2026-12-04T11:40:00Z", got.Error)
	st := trust.Statement{AuditChains: got, IssuedAt: now}
	st.Summarize()
	for _, c := range st.Claims {
		if c.ID == trust.ClaimAuditChains {
			require.False(t, c.Holds)
		}
	}
}
