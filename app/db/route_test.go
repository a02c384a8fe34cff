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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
)

// TestRouteLookup resolves routing keys as the runtime role before any
// tenant is known, and tries, as that role, to list the routing table: the
// organizations, key prefixes, endpoint ids and link codes of every tenant.
func TestRouteLookup(t *testing.T) {
	t.Parallel()
	b := setup(t, dbtest.Start(t))
	ctx := context.Background()
	var linkB uuid.UUID
	require.NoError(t, b.admin.QueryRow(ctx, `SELECT target_id FROM route_keys WHERE kind = 'link_code' AND org_id = $1`, b.orgB).Scan(&linkB))

	t.Run("ResolvesAKeyItIsGiven", func(t *testing.T) {
		org, target, err := b.app.LookupRoute(ctx, db.RouteLinkCode, "code-globex")
		require.NoError(t, err)
		require.Equal(t, b.orgB, org)
		require.Equal(t, linkB, target)
	})

	t.Run("UnknownKeysAndKindsAreNotFound", func(t *testing.T) {
		_, _, err := b.app.LookupRoute(ctx, db.RouteLinkCode, "code-nobody")
		require.ErrorIs(t, err, db.ErrNoRoute)
		_, _, err = b.app.LookupRoute(ctx, db.RouteAPIKeyPrefix, "code-globex")
		require.ErrorIs(t, err, db.ErrNoRoute, "a key resolves only as its own kind")
	})

	t.Run("NoTenantListsNothing", func(t *testing.T) {
		n, err := b.count(ctx, uuid.Nil, "SELECT count(*) FROM route_keys")
		require.NoError(t, err)
		require.Zero(t, n, "the runtime role with no organization set lists the routing table")
	})

	t.Run("ALookupShowsOnlyTheKeyItNames", func(t *testing.T) {
		var keys []string
		err := b.app.PublicTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('rekomi.route_key', 'code-globex', true)"); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT key FROM route_keys")
			if err != nil {
				return err
			}
			keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		require.NoError(t, err)
		require.Equal(t, []string{"code-globex"}, keys)

		n, err := b.count(ctx, uuid.Nil, "SELECT count(*) FROM route_keys")
		require.NoError(t, err)
		require.Zero(t, n, "the named key does not outlive its transaction")
	})

	t.Run("ATenantSeesItsOwnKeysOnly", func(t *testing.T) {
		var others int
		n, err := b.count(ctx, b.orgA, "SELECT count(*) FROM route_keys")
		require.NoError(t, err)
		require.Equal(t, b.adminCount(t, "route_keys", b.orgA), n)
		others, err = b.count(ctx, b.orgA, "SELECT count(*) FROM route_keys WHERE org_id <> $1", b.orgA)
		require.NoError(t, err)
		require.Zero(t, others)
	})
}
