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
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// TestPayoutLimits proves that a write key cannot send out more than its
// organization's limits: per payout, and per currency over 24 hours, even
// with payouts created at the same moment.
func TestPayoutLimits(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	wide := func(c *config.Config) { c.MaxBodyBytes = 1 << 16 }

	setLimits := func(t *testing.T, b *bundle, org uuid.UUID, perPayout, perDay int64) {
		t.Helper()
		b.adminExec(t, "UPDATE organizations SET payout_limit_per_payout = $2, payout_limit_per_day = $3 WHERE id = $1", org, perPayout, perDay)
	}
	refused := func(t *testing.T, b *bundle, tn shop, aff uuid.UUID, detail string) {
		t.Helper()
		var p server.Problem
		require.Equal(t, http.StatusUnprocessableEntity, b.createPayout(t, tn, payoutBody(aff, "EUR", "manual"), &p).StatusCode)
		require.Equal(t, "urn:rekomi:problem:payout_limit_exceeded", p.Type)
		require.Contains(t, p.Detail, detail)
	}

	t.Run("OverTheLimitPerPayout", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		aff := b.seedAffiliate(t, tn.ID, nil)
		eur := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		c := b.org(tn.ID).Commission(t, aff, eur, 800, "EUR", "approved", anHourAgo)
		setLimits(t, b, tn.ID, 500, 10_000)

		refused(t, b, tn, aff, "800 EUR is payable; one payout may pay at most 500 EUR")
		require.Nil(t, b.commission(t, tn.ID, c).PayoutID, "nothing is held by a refused payout")
		var list struct{ Data []payoutObject }
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/payouts", tn.key, "", nil, &list).StatusCode)
		require.Empty(t, list.Data, "no payout is created")
	})

	t.Run("OverTheLimitPerDay", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		first, second := b.seedAffiliate(t, tn.ID, nil), b.seedAffiliate(t, tn.ID, nil)
		eur := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		usd := b.seedPayoutCampaign(t, tn.ID, "USD", 0)
		b.org(tn.ID).Commission(t, first, eur, 1000, "EUR", "approved", anHourAgo)
		b.org(tn.ID).Commission(t, second, eur, 800, "EUR", "approved", anHourAgo)
		b.org(tn.ID).Commission(t, second, usd, 900, "USD", "approved", anHourAgo)
		setLimits(t, b, tn.ID, 1_000, 1_500)

		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(first, "EUR", "manual"), nil).StatusCode)
		refused(t, b, tn, second, "payouts have paid or are paying 1000 EUR over the last 24 hours; with 800 EUR more they would pass the limit of 1500 EUR")
		require.Equal(t, http.StatusCreated, b.createPayout(t, tn, payoutBody(second, "USD", "manual"), nil).StatusCode,
			"another currency has a total of its own")
	})

	t.Run("ConcurrentPayoutsCannotRaceThePerDayLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, wide)
		tn := b.seedShop(t, "acme")
		eur := b.seedPayoutCampaign(t, tn.ID, "EUR", 0)
		const payouts = 6
		affiliates := make([]uuid.UUID, payouts)
		for i := range affiliates {
			affiliates[i] = b.seedAffiliate(t, tn.ID, nil)
			b.org(tn.ID).Commission(t, affiliates[i], eur, 1000, "EUR", "approved", anHourAgo)
		}
		setLimits(t, b, tn.ID, 1_000, 2_500)

		type outcome struct {
			status int
			err    error
		}
		outcomes := make([]outcome, payouts)
		var wg sync.WaitGroup
		for i, aff := range affiliates {
			wg.Go(func() {
				req, err := http.NewRequest(http.MethodPost, b.base+"/v1/payouts", strings.NewReader(payoutBody(aff, "EUR", "manual")))
				if err != nil {
					outcomes[i].err = err
					return
				}
				req.Header.Set("Authorization", "Bearer "+tn.key)
				req.Header.Set("Content-Type", js)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					outcomes[i].err = err
					return
				}
				resp.Body.Close()
				outcomes[i].status = resp.StatusCode
			})
		}
		wg.Wait()
		statuses := make([]int, payouts)
		for i, o := range outcomes {
			require.NoError(t, o.err)
			statuses[i] = o.status
		}
		created := 0
		for _, s := range statuses {
			require.Contains(t, []int{http.StatusCreated, http.StatusUnprocessableEntity}, s)
			if s == http.StatusCreated {
				created++
			}
		}
		require.Equal(t, 2, created, "2,500 allows two payouts of 1,000, whatever their timing: %v", statuses)
	})
}
