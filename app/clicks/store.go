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
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// insertSQL stores a batch of one organization's clicks in one statement.
// COPY FROM is refused on a table whose row-level security applies to the
// role, so the columns go as arrays and unnest turns them back into rows.
const insertSQL = `INSERT INTO clicks (org_id, link_id, visitor_id, occurred_at, ip, user_agent, referrer, is_bot)
SELECT $1, * FROM unnest($2::uuid[], $3::uuid[], $4::timestamptz[], $5::inet[], $6::text[], $7::text[], $8::bool[])`

// insert stores recs, all of organization org, in a tenant transaction of
// that organization.
func insert(ctx context.Context, database *db.DB, org uuid.UUID, recs []record) error {
	// Plain arrays: pgx encodes them directly, where uuid.UUID goes
	// through driver.Valuer and a text round trip per element.
	links := make([][16]byte, len(recs))
	visitors := make([][16]byte, len(recs))
	times := make([]time.Time, len(recs))
	ips := make([]*netip.Prefix, len(recs))
	agents := make([]*string, len(recs))
	referrers := make([]*string, len(recs))
	bots := make([]bool, len(recs))
	for i, r := range recs {
		links[i], visitors[i], times[i], ips[i] = r.linkID, r.visitorID, r.occurredAt, r.ip
		agents[i], referrers[i], bots[i] = r.userAgent, r.referrer, r.isBot
	}
	err := database.TenantTx(ctx, org, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, insertSQL, org, links, visitors, times, ips, agents, referrers, bots)
		return db.MapError(err)
	})
	if err != nil {
		return fmt.Errorf("storing %d clicks of organization %s: %w", len(recs), org, err)
	}
	return nil
}
