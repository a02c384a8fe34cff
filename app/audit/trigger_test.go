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
)

// TestChainTrigger plays a caller that tries to steer the chain trigger: the
// database alone sets an entry's id, time and place in the chain.
func TestChainTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("IgnoresAClientSuppliedIDAndTime", func(t *testing.T) {
		t.Parallel()
		org, chosen := b.newOrg(t), uuid.New()
		var id uuid.UUID
		var now bool
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `INSERT INTO audit_log (org_id, id, occurred_at, actor_type, actor_id, action, target_type, target_id)
				VALUES ($1, $2, '2001-01-01T00:00:00Z', 'system', 'test', 'campaign.created', 'campaign', 'c1')
				RETURNING id, occurred_at = now()`, org, chosen).Scan(&id, &now)
		}))
		require.NotEqual(t, chosen, id, "the database chooses the id")
		require.True(t, now, "occurred_at is the time of the transaction, not the client's")
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)
	})

	t.Run("ATemporaryTableCannotShadowTheLog", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		// The server's admin may create temporary tables; a forged chain
		// head in one must not reach the trigger.
		pooled, err := b.admin.Acquire(ctx)
		require.NoError(t, err)
		conn := pooled.Hijack()
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TEMPORARY TABLE audit_log (LIKE public.audit_log INCLUDING DEFAULTS)`)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO pg_temp.audit_log (org_id, seq, id, occurred_at, actor_type, actor_id, action, target_type, target_id, prev_hash, hash)
			VALUES ($1, 41, gen_random_uuid(), now(), 'system', 'x', 'x.x', 'x', 'x', sha256('x'), sha256('forged'))`, org)
		require.NoError(t, err)
		var seq int64
		var prev []byte
		require.NoError(t, conn.QueryRow(ctx, `INSERT INTO public.audit_log (org_id, actor_type, actor_id, action, target_type, target_id)
			VALUES ($1, 'system', 'test', 'campaign.created', 'campaign', 'c1') RETURNING seq, prev_hash`, org).Scan(&seq, &prev))
		require.Equal(t, int64(1), seq, "the chain is read from the schema's audit_log")
		require.Equal(t, make([]byte, 32), prev)
	})
}
