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

package ledger_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

func TestScope(t *testing.T) {
	t.Parallel()

	t.Run("ValidOnlyForReadAndWrite", func(t *testing.T) {
		t.Parallel()
		for sc, want := range map[ledger.Scope]bool{"read": true, "write": true, "admin": false, "": false, "READ": false} {
			require.Equal(t, want, sc.Valid(), "%q", sc)
		}
	})

	t.Run("NormalizesSortedEachOnce", func(t *testing.T) {
		t.Parallel()
		in := []ledger.Scope{ledger.ScopeWrite, ledger.ScopeRead, ledger.ScopeWrite}
		require.Equal(t, []ledger.Scope{ledger.ScopeRead, ledger.ScopeWrite}, ledger.NormalizeScopes(in))
		require.Equal(t, []ledger.Scope{ledger.ScopeWrite, ledger.ScopeRead, ledger.ScopeWrite}, in, "the input is left as it was")
	})
}

// auditMetadata is the metadata of each of o's audit entries of action on
// target, oldest first.
func auditMetadata(t *testing.T, o ledgertest.Org, action string, target uuid.UUID) []map[string]any {
	t.Helper()
	var out []map[string]any
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT metadata FROM audit_log WHERE action = $1 AND target_id = $2 ORDER BY seq`,
			action, target.String())
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[map[string]any])
		return err
	})
	return out
}

// createAPIKey creates k in o's transaction as the system.
func createAPIKey(t *testing.T, o ledgertest.Org, k ledger.NewAPIKey) ledger.APIKey {
	t.Helper()
	var key ledger.APIKey
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		key, err = ledger.CreateAPIKey(ctx, tx, o.ID, system, k)
		return err
	})
	return key
}

// revokeAPIKey revokes key id in o's transaction as the system.
func revokeAPIKey(t *testing.T, o ledgertest.Org, id uuid.UUID) (ledger.APIKey, bool) {
	t.Helper()
	var key ledger.APIKey
	var revoked bool
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		key, revoked, err = ledger.RevokeAPIKey(ctx, tx, o.ID, system, id)
		return err
	})
	return key, revoked
}

func TestAPIKeyVerbs(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	o := region.Org(t, "")

	t.Run("StoresAGivenSecretRoutedAndAudited", func(t *testing.T) {
		secret, prefix, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		key := createAPIKey(t, o, ledger.NewAPIKey{Name: "admin", Scopes: []ledger.Scope{ledger.ScopeWrite, ledger.ScopeRead},
			CreatedBy: "operator", Secret: secret, Metadata: map[string]any{"delivered_in": "ns/admin-key"}})
		require.Equal(t, secret, key.Secret)
		require.Equal(t, prefix, key.Prefix)
		require.Equal(t, []ledger.Scope{ledger.ScopeRead, ledger.ScopeWrite}, key.Scopes, "sorted")
		org, id, err := region.DB.LookupRoute(context.Background(), db.RouteAPIKeyPrefix, prefix)
		require.NoError(t, err)
		require.Equal(t, [2]uuid.UUID{o.ID, key.ID}, [2]uuid.UUID{org, id}, "the prefix routes to the key")
		require.Equal(t, []map[string]any{{"name": "admin", "prefix": prefix, "scopes": []any{"read", "write"},
			"delivered_in": "ns/admin-key"}}, auditMetadata(t, o, "api_key.created", key.ID))
	})

	t.Run("RefusesAMalformedGivenSecret", func(t *testing.T) {
		err := tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
			_, err := ledger.CreateAPIKey(ctx, tx, o.ID, system, ledger.NewAPIKey{Name: "bad",
				Scopes: []ledger.Scope{ledger.ScopeRead}, CreatedBy: "operator", Secret: "rk_live_short"})
			return err
		})
		require.ErrorIs(t, err, apikey.ErrMalformed)
	})

	t.Run("GeneratesASecret", func(t *testing.T) {
		key := createAPIKey(t, o, ledger.NewAPIKey{Name: "ci", Scopes: []ledger.Scope{ledger.ScopeRead}, CreatedBy: "api_key:x"})
		prefix, err := apikey.Parse(key.Secret)
		require.NoError(t, err)
		require.Equal(t, key.Prefix, prefix)
	})

	t.Run("RevokesOnceAndAuditsOnce", func(t *testing.T) {
		key := createAPIKey(t, o, ledger.NewAPIKey{Name: "ci", Scopes: []ledger.Scope{ledger.ScopeRead}, CreatedBy: "api_key:x"})
		first, revoked := revokeAPIKey(t, o, key.ID)
		require.True(t, revoked)
		require.NotNil(t, first.RevokedAt)
		again, revoked := revokeAPIKey(t, o, key.ID)
		require.False(t, revoked, "a revoked key is not revoked again")
		require.Equal(t, first.RevokedAt, again.RevokedAt, "the first revocation's time stays")
		require.Equal(t, 1, o.Audits(t, "api_key.revoked", key.ID))
	})

	t.Run("GetsWhatItLists", func(t *testing.T) {
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			list, err := ledger.ListAPIKeys(ctx, tx, o.ID, ledger.Page{Limit: 100})
			require.NoError(t, err)
			require.NotEmpty(t, list.Data)
			for _, k := range list.Data {
				require.Empty(t, k.Secret, "a stored key has no secret to show")
				got, err := ledger.GetAPIKey(ctx, tx, o.ID, k.ID)
				require.NoError(t, err)
				require.Equal(t, k, got)
			}
			_, err = ledger.GetAPIKey(ctx, tx, o.ID, uuid.New())
			require.ErrorIs(t, err, db.ErrNotFound)
			return nil
		})
	})
}
