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

package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
)

// The RLS overhead benchmark's data: clicks spread evenly over organizations,
// each organization with a few campaigns and links.
const (
	benchOrgs          = 100
	benchLinksPerOrg   = 10
	benchClicksPerLink = 1000 // 100 x 10 x 1000 = 1,000,000 clicks
	benchCampaigns     = 5
)

// seedBench writes the benchmark data as the admin and returns one
// organization and one of its links.
func seedBench(b *testing.B, admin *pgx.Conn) (org, link uuid.UUID) {
	b.Helper()
	ctx := context.Background()
	_, err := admin.Exec(ctx, `
		INSERT INTO organizations (id, name, display_name, plan)
		SELECT gen_random_uuid(), 'org-' || i, 'Org ' || i, 'pro' FROM generate_series(1, $1) i`, benchOrgs)
	require.NoError(b, err)
	_, err = admin.Exec(ctx, `
		INSERT INTO campaigns (org_id, name, currency, commission_type, commission_bps)
		SELECT o.id, 'Campaign ' || c, 'EUR', 'percentage', 1000 FROM organizations o, generate_series(1, $1) c`, benchCampaigns)
	require.NoError(b, err)
	_, err = admin.Exec(ctx, `
		INSERT INTO affiliates (org_id, email, status) SELECT id, 'partner@' || name || '.example', 'active' FROM organizations`)
	require.NoError(b, err)
	_, err = admin.Exec(ctx, `
		INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
		SELECT a.org_id, a.id, (SELECT id FROM campaigns c WHERE c.org_id = a.org_id LIMIT 1),
		       'link-' || substr(md5(a.org_id::text), 1, 8) || '-' || l, 'https://example.com/'
		  FROM affiliates a, generate_series(1, $1) l`, benchLinksPerOrg)
	require.NoError(b, err)
	_, err = admin.Exec(ctx, `
		INSERT INTO clicks (org_id, link_id, visitor_id, occurred_at)
		SELECT l.org_id, l.id, gen_random_uuid(), now() - n * interval '1 minute'
		  FROM referral_links l, generate_series(1, $1) n`, benchClicksPerLink)
	require.NoError(b, err)
	_, err = admin.Exec(ctx, "ANALYZE")
	require.NoError(b, err)
	require.NoError(b, admin.QueryRow(ctx,
		"SELECT org_id, id FROM referral_links ORDER BY org_id, id LIMIT 1").Scan(&org, &link))
	return org, link
}

// BenchmarkRLSOverhead runs the same tenant query under row-level security as
// the runtime role (the organization set in the transaction, no org_id in the
// WHERE clause) and as a superuser with an explicit WHERE org_id, on the same
// data, alternating the two in every iteration. It reports each side's time
// per query and their ratio (rls/explicit; the goal is at most 1.10).
func BenchmarkRLSOverhead(b *testing.B) {
	srv := dbtest.Start(b)
	region := regiondb.New(b, srv)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, region.AdminURL)
	require.NoError(b, err)
	defer admin.Close(ctx)
	org, link := seedBench(b, admin)

	app, err := db.Open(ctx, region.RuntimeURL)
	require.NoError(b, err)
	defer app.Close()

	cases := []struct {
		name         string
		rls          string // as the runtime role, organization set
		rlsArgs      []any
		explicit     string // as the superuser
		explicitArgs []any
	}{
		{
			name:         "ListCampaigns",
			rls:          "SELECT id, name, currency, commission_type FROM campaigns ORDER BY created_at, id LIMIT 50",
			explicit:     "SELECT id, name, currency, commission_type FROM campaigns WHERE org_id = $1 ORDER BY created_at, id LIMIT 50",
			explicitArgs: []any{org},
		},
		{
			name:         "CountLinkClicks",
			rls:          "SELECT count(*) FROM clicks WHERE link_id = $1",
			rlsArgs:      []any{link},
			explicit:     "SELECT count(*) FROM clicks WHERE org_id = $1 AND link_id = $2",
			explicitArgs: []any{org, link},
		},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var rlsTime, explicitTime time.Duration
			err := app.TenantTx(ctx, org, func(tx pgx.Tx) error {
				for b.Loop() {
					start := time.Now()
					if err := drain(ctx, tx, c.rls, c.rlsArgs...); err != nil {
						return err
					}
					rlsTime += time.Since(start)
					start = time.Now()
					if err := drain(ctx, admin, c.explicit, c.explicitArgs...); err != nil {
						return err
					}
					explicitTime += time.Since(start)
				}
				return nil
			})
			require.NoError(b, err)
			b.ReportMetric(float64(rlsTime.Nanoseconds())/float64(b.N), "rls-ns/query")
			b.ReportMetric(float64(explicitTime.Nanoseconds())/float64(b.N), "explicit-ns/query")
			b.ReportMetric(float64(rlsTime)/float64(explicitTime), "rls/explicit")
		})
	}
}

// drain runs a query and reads every row.
func drain(ctx context.Context, q db.DBTX, sql string, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}
