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
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
)

// bundle is a migrated Region and a connection to it as the admin.
type bundle struct {
	region *regiondb.DB
	db     *db.DB
	admin  *pgx.Conn
}

func setup(t *testing.T, srv *dbtest.Server) *bundle {
	t.Helper()
	ctx := context.Background()
	region := regiondb.New(t, srv)
	database, err := db.Open(ctx, region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(database.Close)
	admin, err := pgx.Connect(ctx, region.AdminURL)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	return &bundle{region: region, db: database, admin: admin}
}

func (b *bundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.admin.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

// seedLink writes an organization with an affiliate, a campaign and a link
// as the admin, and returns the organization and the link.
func (b *bundle) seedLink(t *testing.T) (org, link uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	org = uuid.New()
	b.exec(t, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, org, "org-"+org.String()[:8])
	var affiliate, campaign uuid.UUID
	require.NoError(t, b.admin.QueryRow(ctx, `INSERT INTO affiliates (org_id, email, status) VALUES ($1, 'a@partners.example', 'active')
		RETURNING id`, org).Scan(&affiliate))
	require.NoError(t, b.admin.QueryRow(ctx, `INSERT INTO campaigns (org_id, name, currency, commission_type, commission_bps)
		VALUES ($1, 'launch', 'EUR', 'percentage', 1000) RETURNING id`, org).Scan(&campaign))
	require.NoError(t, b.admin.QueryRow(ctx, `INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
		VALUES ($1, $2, $3, $4, 'https://shop.example/') RETURNING id`, org, affiliate, campaign, "c"+org.String()[:8]).Scan(&link))
	return org, link
}

// countAs counts the clicks of org as that organization sees them, through
// row-level security.
func (b *bundle) countAs(t *testing.T, org uuid.UUID) int {
	t.Helper()
	ctx := context.Background()
	var n int
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM clicks`).Scan(&n)
	}))
	return n
}

// countAll counts every click of org, as the admin, past row-level security.
func (b *bundle) countAll(t *testing.T, org uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.admin.QueryRow(context.Background(), `SELECT count(*) FROM clicks WHERE org_id = $1`, org).Scan(&n))
	return n
}

// refuseInserts makes the database refuse click inserts until the returned
// function is called (or the test ends).
func (b *bundle) refuseInserts(t *testing.T) (allow func()) {
	t.Helper()
	role := pgx.Identifier{b.region.Runtime}.Sanitize()
	b.exec(t, `REVOKE INSERT ON clicks FROM `+role)
	allowed := false
	allow = func() {
		if !allowed {
			allowed = true
			b.exec(t, `GRANT INSERT ON clicks TO `+role)
		}
	}
	t.Cleanup(allow)
	return allow
}

func (b *bundle) batcher(t *testing.T, opts Options) *Batcher {
	t.Helper()
	bt := New(b.db, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bt.Close(ctx)
	})
	return bt
}

func click(org, link uuid.UUID, ip string) Click {
	c := Click{OrgID: org, LinkID: link, VisitorID: uuid.New(), OccurredAt: time.Now(),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", Referrer: "https://blog.example/post"}
	if ip != "" {
		c.IP = netip.MustParseAddr(ip)
	}
	return c
}

func closeWithin(t *testing.T, bt *Batcher, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return bt.Close(ctx)
}

func TestBatcher(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)

	t.Run("WritesOneBatchPerOrganizationUnderItsRLS", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		orgA, linkA := b.seedLink(t)
		orgB, linkB := b.seedLink(t)
		bt := b.batcher(t, Options{FlushInterval: time.Hour})
		for i := range 30 {
			if i%3 == 0 {
				require.True(t, bt.Add(click(orgB, linkB, "198.51.100.1")))
			} else {
				require.True(t, bt.Add(click(orgA, linkA, "198.51.100.1")))
			}
		}
		bt.Start()
		require.NoError(t, closeWithin(t, bt, 10*time.Second))
		require.Equal(t, 20, b.countAll(t, orgA))
		require.Equal(t, 10, b.countAll(t, orgB))
		require.Equal(t, 20, b.countAs(t, orgA), "each organization sees its own clicks")
		require.Equal(t, 10, b.countAs(t, orgB))
		require.Equal(t, 30.0, testutil.ToFloat64(bt.m.stored))
		require.Equal(t, uint64(2), histogramCount(t, bt.m.batchSize), "one statement per organization")
	})

	t.Run("FlushesOnTheIntervalAndAtBatchSize", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		org, link := b.seedLink(t)
		bySize := b.batcher(t, Options{FlushInterval: time.Hour, BatchSize: 5})
		bySize.Start()
		for range 5 {
			require.True(t, bySize.Add(click(org, link, "")))
		}
		require.Eventually(t, func() bool { return b.countAll(t, org) == 5 }, 10*time.Second, 10*time.Millisecond,
			"a full batch is written without waiting for the interval")
		byTime := b.batcher(t, Options{FlushInterval: 20 * time.Millisecond})
		byTime.Start()
		require.True(t, byTime.Add(click(org, link, "")))
		require.Eventually(t, func() bool { return b.countAll(t, org) == 6 }, 10*time.Second, 10*time.Millisecond)
	})

	t.Run("RetriesAFailedFlushUntilEveryClickIsStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		org, link := b.seedLink(t)
		allow := b.refuseInserts(t)
		bt := b.batcher(t, Options{FlushInterval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
		bt.Start()
		for range 50 {
			require.True(t, bt.Add(click(org, link, "")))
		}
		require.Eventually(t, func() bool { return testutil.ToFloat64(bt.m.flushFailures) >= 3 }, 10*time.Second, 5*time.Millisecond)
		require.Zero(t, b.countAll(t, org))
		require.Equal(t, 50.0, testutil.ToFloat64(bt.m.pending), "the refused clicks are still pending")
		for range 25 {
			require.True(t, bt.Add(click(org, link, "")), "clicks keep coming during the failure")
		}
		allow()
		require.Eventually(t, func() bool { return b.countAll(t, org) == 75 }, 10*time.Second, 10*time.Millisecond)
		require.NoError(t, closeWithin(t, bt, 10*time.Second))
		require.Equal(t, 75, b.countAll(t, org))
		require.Equal(t, 75.0, testutil.ToFloat64(bt.m.stored))
		require.Zero(t, testutil.ToFloat64(bt.m.pending))
		require.Zero(t, lostTotal(bt))
	})

	t.Run("CloseNamesTheClicksItCouldNotStore", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		org, link := b.seedLink(t)
		b.refuseInserts(t)
		bt := b.batcher(t, Options{FlushInterval: time.Hour, MinBackoff: 10 * time.Millisecond})
		bt.Start()
		for range 7 {
			require.True(t, bt.Add(click(org, link, "")))
		}
		err := closeWithin(t, bt, 300*time.Millisecond)
		require.ErrorContains(t, err, "7 clicks could not be stored")
		require.Equal(t, 7.0, testutil.ToFloat64(bt.m.lost.WithLabelValues(reasonShutdown)))
		require.Error(t, closeWithin(t, bt, time.Second), "a second Close reports the same")
	})

	t.Run("CountsEveryClickItCannotKeep", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		org, link := b.seedLink(t)
		// Not started: nothing takes from the queue yet.
		bt := b.batcher(t, Options{QueueSize: 2, SpillSize: 3})
		accepted := 0
		for range 10 {
			if bt.Add(click(org, link, "")) {
				accepted++
			}
		}
		require.Equal(t, 5, accepted, "two in the queue, three in the overflow buffer")
		require.Equal(t, 8.0, testutil.ToFloat64(bt.m.bufferFull))
		require.Equal(t, 5.0, testutil.ToFloat64(bt.m.lost.WithLabelValues(reasonOverflow)))
		require.Equal(t, 5.0, testutil.ToFloat64(bt.m.received))
		bt.Start()
		require.NoError(t, closeWithin(t, bt, 10*time.Second))
		require.Equal(t, 5, b.countAll(t, org), "the overflow buffer is written too")
		require.False(t, bt.Add(click(org, link, "")), "closed")
		require.Equal(t, 1.0, testutil.ToFloat64(bt.m.lost.WithLabelValues(reasonClosed)))
	})

	t.Run("StoresTheAddressAsTheRegionRequires", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		org, link := b.seedLink(t)
		for _, tc := range []struct {
			truncate   bool
			ip, stored string
		}{
			{false, "203.0.113.77", "203.0.113.77/32"},
			{true, "203.0.113.77", "203.0.113.0/24"},
			{false, "2001:db8:abcd:12::9", "2001:db8:abcd:12::9/128"},
			{true, "2001:db8:abcd:12::9", "2001:db8:abcd::/48"},
		} {
			bt := b.batcher(t, Options{TruncateIPs: tc.truncate})
			c := click(org, link, tc.ip)
			require.True(t, bt.Add(c))
			require.NoError(t, closeWithin(t, bt, 10*time.Second))
			var stored string
			require.NoError(t, b.admin.QueryRow(context.Background(), `SELECT host(ip) || '/' || masklen(ip) FROM clicks
				WHERE visitor_id = $1`, c.VisitorID).Scan(&stored))
			require.Equal(t, tc.stored, stored, fmt.Sprintf("truncate=%v", tc.truncate))
		}
	})
}

func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	h.Collect(ch)
	var m dto.Metric
	require.NoError(t, (<-ch).Write(&m))
	return m.GetHistogram().GetSampleCount()
}

func lostTotal(bt *Batcher) float64 {
	var sum float64
	for _, reason := range []string{reasonOverflow, reasonClosed, reasonRejected, reasonShutdown} {
		sum += testutil.ToFloat64(bt.m.lost.WithLabelValues(reason))
	}
	return sum
}
