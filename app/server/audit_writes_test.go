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
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// TestAuditedWrites checks the audit log from the API's side: a change and
// its entry commit or fail together, and concurrent writers keep the chain
// gap-free and valid.
func TestAuditedWrites(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024; c.RateLimit, c.RateBurst = 1000, 1000 })
	const js = "application/json"
	ctx := context.Background()

	t.Run("AFailingAuditInsertRollsBackTheChange", func(t *testing.T) {
		org, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
		admin, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		_, err = admin.Exec(ctx, `ALTER TABLE audit_log ADD CONSTRAINT refuse_campaign_created CHECK (action <> 'campaign.created') NOT VALID`)
		require.NoError(t, err)
		resp := b.call(t, http.MethodPost, "/v1/campaigns", key, js, strings.NewReader(campaignBody("Doomed")), nil)
		_, dropErr := admin.Exec(ctx, `ALTER TABLE audit_log DROP CONSTRAINT refuse_campaign_created`)
		require.NoError(t, dropErr)

		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Zero(t, b.countCampaigns(t, org, "Doomed"), "the campaign was rolled back with its entry")
		require.Zero(t, b.countActions(t, org, "campaign.created"))
		require.Equal(t, http.StatusCreated, b.call(t, http.MethodPost, "/v1/campaigns", key, js,
			strings.NewReader(campaignBody("Doomed")), nil).StatusCode, "the same request succeeds once the log accepts it")
		require.Equal(t, 1, b.countCampaigns(t, org, "Doomed"))
	})

	t.Run("TwentyConcurrentWritersKeepTheChainValid", func(t *testing.T) {
		org, key := b.seedOrg(t, "globex", server.ScopeRead, server.ScopeWrite)
		const writers, each = 20, 5
		var wg sync.WaitGroup
		statuses := make(chan int, writers*each)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					body := campaignBody(fmt.Sprintf("Writer %d campaign %d", w, i))
					statuses <- b.call(t, http.MethodPost, "/v1/campaigns", key, js, strings.NewReader(body), nil).StatusCode
				}
			})
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			require.Equal(t, http.StatusCreated, s)
		}
		require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
			var n, maxSeq, campaigns, unaudited int
			require.NoError(t, tx.QueryRow(ctx, `SELECT count(*), max(seq) FROM audit_log`).Scan(&n, &maxSeq))
			require.Equal(t, writers*each, n)
			require.Equal(t, n, maxSeq, "seq has no gaps")
			require.NoError(t, tx.QueryRow(ctx, `SELECT count(*),
				count(*) FILTER (WHERE (SELECT count(*) FROM audit_log a WHERE a.target_id = c.id::text) <> 1)
				FROM campaigns c`).Scan(&campaigns, &unaudited))
			require.Equal(t, writers*each, campaigns)
			require.Zero(t, unaudited, "every campaign has exactly one entry")
			v, err := audit.Verify(ctx, tx, org)
			require.NoError(t, err)
			require.True(t, v.OK(), v.Detail)
			require.EqualValues(t, n, v.Verified)
			return nil
		}))
	})
}
