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

package audit_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("AnEmptyChainIsIntact", func(t *testing.T) {
		t.Parallel()
		v := b.verify(t, b.newOrg(t))
		require.Equal(t, audit.Verification{}, v)
		require.True(t, v.OK())
	})

	t.Run("RefusesNoOrganization", func(t *testing.T) {
		t.Parallel()
		err := b.app.PublicTx(ctx, func(tx pgx.Tx) error {
			_, err := audit.Verify(ctx, tx, uuid.Nil)
			return err
		})
		require.ErrorIs(t, err, db.ErrNoTenant)
	})

	// Each case appends five entries, tampers as the admin, and expects
	// Verify to stop at the first broken seq with the entries before it
	// intact.
	for name, tc := range map[string]struct {
		sql     string
		broken  int64
		problem audit.Problem
	}{
		"ReportsAChangedAction": {
			sql:    "UPDATE audit_log SET action = 'campaign.deleted' WHERE org_id = $1 AND seq = 3",
			broken: 3, problem: audit.ProblemHash,
		},
		"ReportsChangedMetadata": {
			sql:    `UPDATE audit_log SET metadata = '{"n": 99}' WHERE org_id = $1 AND seq = 2`,
			broken: 2, problem: audit.ProblemHash,
		},
		"ReportsAChangedTime": {
			sql:    "UPDATE audit_log SET occurred_at = occurred_at - interval '1 microsecond' WHERE org_id = $1 AND seq = 5",
			broken: 5, problem: audit.ProblemHash,
		},
		"ReportsADeletedMiddleEntryAsAGap": {
			sql:    "DELETE FROM audit_log WHERE org_id = $1 AND seq = 3",
			broken: 3, problem: audit.ProblemGap,
		},
		"ReportsADeletedFirstEntryAsAGap": {
			sql:    "DELETE FROM audit_log WHERE org_id = $1 AND seq = 1",
			broken: 1, problem: audit.ProblemGap,
		},
		"ReportsASwappedPrevHash": {
			sql: `UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE org_id = $1 AND seq = 2)
				WHERE org_id = $1 AND seq = 4`,
			broken: 4, problem: audit.ProblemLink,
		},
		"ReportsAChangedFirstPrevHash": {
			sql:    "UPDATE audit_log SET prev_hash = sha256('x') WHERE org_id = $1 AND seq = 1",
			broken: 1, problem: audit.ProblemLink,
		},
		"ReportsARehashedEntryAtTheNextLink": {
			sql: `UPDATE audit_log a SET action = 'campaign.deleted',
				hash = rekomi_audit_entry_hash(a.prev_hash, (a.org_id, a.seq, a.id, a.occurred_at, a.actor_type, a.actor_id,
					'campaign.deleted', a.target_type, a.target_id, a.ip, a.user_agent, a.request_id, a.metadata, a.prev_hash, a.hash,
					a.personal, a.personal_index)::audit_log)
				WHERE org_id = $1 AND seq = 3`,
			broken: 4, problem: audit.ProblemLink,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			org := b.newOrg(t)
			b.appendN(t, org, 5)
			b.tamper(t, tc.sql, org)

			v := b.verify(t, org)
			require.False(t, v.OK())
			require.Equal(t, tc.problem, v.Problem, v.Detail)
			require.Equal(t, tc.broken, v.BrokenSeq, v.Detail)
			require.Equal(t, tc.broken-1, v.Verified)
			if tc.broken > 1 {
				var head []byte
				require.NoError(t, b.admin.QueryRow(ctx, "SELECT hash FROM audit_log WHERE org_id = $1 AND seq = $2",
					org, tc.broken-1).Scan(&head))
				require.Equal(t, head, v.Head)
			}
		})
	}

	t.Run("WalksLongChainsInBatches", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		const n = 2500
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id)
				SELECT $1, 'system', 'import', 'click.recorded', 'click', 'c' || i FROM generate_series(1, $2::int) i`, org, n)
			return err
		}))
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)
		require.Equal(t, int64(n), v.Verified)

		b.tamper(t, "UPDATE audit_log SET target_id = 'forged' WHERE org_id = $1 AND seq = 1500", org)
		v = b.verify(t, org)
		require.Equal(t, audit.ProblemHash, v.Problem)
		require.Equal(t, int64(1500), v.BrokenSeq)
		require.Equal(t, int64(1499), v.Verified)
	})
}
