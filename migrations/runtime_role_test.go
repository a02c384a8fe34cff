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

package migrations_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/migrations"
)

// runtimePrivilegesSQL lists every privilege the runtime role ($1) holds on
// the database, the schema ($2), its tables and their columns, as
// "object: PRIVILEGE" or "table: PRIVILEGE(column)", whoever granted it.
const runtimePrivilegesSQL = `
WITH role AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
SELECT 'database: ' || a.privilege_type
FROM pg_catalog.pg_database d, pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
WHERE d.datname = pg_catalog.current_database() AND a.grantee IN (0, (SELECT oid FROM role))
UNION
SELECT 'schema: ' || a.privilege_type
FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
WHERE n.nspname = $2 AND a.grantee IN (0, (SELECT oid FROM role))
UNION
SELECT c.relname || ': ' || a.privilege_type
FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
WHERE c.relnamespace = $2::regnamespace AND a.grantee IN (0, (SELECT oid FROM role))
UNION
SELECT c.relname || ': ' || a.privilege_type || '(' || att.attname || ')'
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped,
     pg_catalog.aclexplode(att.attacl) a
WHERE c.relnamespace = $2::regnamespace AND a.grantee IN (0, (SELECT oid FROM role))
ORDER BY 1`

// TestRuntimeRolePrivileges reads, from the catalog of a Region database
// provisioned as the operator does, everything the runtime role (or PUBLIC)
// may do, and requires exactly migrations.RuntimeGrants plus CONNECT on the
// database and USAGE on the schema: a privilege the app does not use fails
// it. Then it plays the runtime role against the privileges it lost.
func TestRuntimeRolePrivileges(t *testing.T) {
	t.Parallel()
	region := regiondb.New(t, dbtest.Start(t))
	ctx := context.Background()
	runtime, err := pgx.Connect(ctx, region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(func() { runtime.Close(context.Background()) })

	t.Run("AreExactlyTheListedGrants", func(t *testing.T) {
		want := []string{"database: CONNECT", "schema: USAGE"}
		for table, privileges := range migrations.RuntimeGrants() {
			for _, p := range privileges {
				want = append(want, fmt.Sprintf("%s: %s", table, p))
			}
		}
		admin, err := pgx.Connect(ctx, region.AdminURL)
		require.NoError(t, err)
		defer admin.Close(ctx)
		rows, err := admin.Query(ctx, runtimePrivilegesSQL, region.Runtime, "public")
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		slices.Sort(want)
		require.Equal(t, want, got)
	})

	t.Run("CannotCreateATemporaryTable", func(t *testing.T) {
		_, err := runtime.Exec(ctx, `CREATE TEMPORARY TABLE audit_log (id int)`)
		requireSQLState(t, err, "42501")
	})

	org, key := seedKey(t, region)
	t.Run("CannotUnrevokeAKey", func(t *testing.T) {
		_, err := tenantExec(ctx, runtime, org, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, key)
		require.NoError(t, err, "the app revokes keys")
		_, err = tenantExec(ctx, runtime, org, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, key)
		require.NoError(t, err, "revoking twice changes nothing")
		_, err = tenantExec(ctx, runtime, org, `UPDATE api_keys SET revoked_at = NULL WHERE id = $1`, key)
		requireSQLState(t, err, "42501")
		_, err = tenantExec(ctx, runtime, org, `UPDATE api_keys SET revoked_at = now() - interval '1 day' WHERE id = $1`, key)
		requireSQLState(t, err, "42501")
	})

	for column, value := range map[string]string{"scopes": "ARRAY['read', 'write']", "hash": "sha256('x')", "prefix": "'attacker1'", "last_used_at": "now()"} {
		t.Run("CannotChangeAKeys_"+column, func(t *testing.T) {
			_, err := tenantExec(ctx, runtime, org, `UPDATE api_keys SET `+column+` = `+value+` WHERE id = $1`, key)
			requireSQLState(t, err, "42501")
		})
	}

	code := seedPromoCode(t, region, org)
	t.Run("CannotChangeAPromoCodesCode", func(t *testing.T) {
		n, err := tenantExec(ctx, runtime, org, `UPDATE promo_codes SET disabled_at = now(), updated_at = now() WHERE id = $1`, code)
		require.NoError(t, err, "the app disables codes")
		require.EqualValues(t, 1, n)
		for column, value := range map[string]string{"code": "'TAKEN'", "org_id": "org_id", "id": "gen_random_uuid()", "created_at": "now()"} {
			_, err := tenantExec(ctx, runtime, org, `UPDATE promo_codes SET `+column+` = `+value+` WHERE id = $1`, code)
			requireSQLState(t, err, "42501")
		}
		_, err = tenantExec(ctx, runtime, org, `DELETE FROM promo_codes WHERE id = $1`, code)
		requireSQLState(t, err, "42501")
	})

	t.Run("CannotDeleteARouteKey", func(t *testing.T) {
		n, err := tenantExec(ctx, runtime, org, `DELETE FROM route_keys WHERE target_id = $1`, key)
		requireSQLState(t, err, "42501")
		require.Zero(t, n)
	})
	t.Run("CannotReplaceOrDestroyADataKey", func(t *testing.T) {
		_, err := tenantExec(ctx, runtime, org, `INSERT INTO org_data_keys (org_id, sealed_key) VALUES ($1, '\x01')`, org)
		require.NoError(t, err, "the app creates its organization's key")
		_, err = tenantExec(ctx, runtime, org, `INSERT INTO org_data_keys (org_id, sealed_key) VALUES ($1, '\x02')`, org)
		requireSQLState(t, err, "23505")
		_, err = tenantExec(ctx, runtime, org, `UPDATE org_data_keys SET sealed_key = '\x02' WHERE org_id = $1`, org)
		requireSQLState(t, err, "42501")
		_, err = tenantExec(ctx, runtime, org, `DELETE FROM org_data_keys WHERE org_id = $1`, org)
		requireSQLState(t, err, "42501")
		_, err = tenantExec(ctx, runtime, org, `TRUNCATE org_data_keys`)
		requireSQLState(t, err, "42501")
	})

	t.Run("CannotGiveAPurgedOrganizationADataKey", func(t *testing.T) {
		purged := uuid.New()
		dbtest.Exec(t, region.AdminURL, `INSERT INTO organizations (id, name, display_name, plan, status, cancelled_at, purge_at)
			VALUES ($1, $2, $2, 'pro', 'purged', now(), now())`, purged, "org-"+purged.String()[:8])
		_, err := tenantExec(ctx, runtime, purged, `INSERT INTO org_data_keys (org_id, sealed_key) VALUES ($1, '\x01')`, purged)
		requireSQLState(t, err, "42501")
	})
}

// seedKey writes an organization, one API key and its route key as the
// admin, and returns the organization and the key's id.
func seedKey(t *testing.T, region *regiondb.DB) (org, key uuid.UUID) {
	t.Helper()
	org, key = uuid.New(), uuid.New()
	prefix := "rk" + key.String()[:8]
	dbtest.Exec(t, region.AdminURL, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`,
		org, "org-"+org.String()[:8])
	dbtest.Exec(t, region.AdminURL, `INSERT INTO api_keys (org_id, id, name, prefix, hash, scopes, created_by)
		VALUES ($1, $2, 'k', $3, sha256('k'), ARRAY['read'], 'operator')`, org, key, prefix)
	dbtest.Exec(t, region.AdminURL, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('api_key_prefix', $1, $2, $3)`,
		prefix, org, key)
	return org, key
}

// seedPromoCode writes a campaign, an affiliate and its promo code in org
// as the admin, and returns the promo code's id.
func seedPromoCode(t *testing.T, region *regiondb.DB, org uuid.UUID) uuid.UUID {
	t.Helper()
	campaign, affiliate, code := uuid.New(), uuid.New(), uuid.New()
	dbtest.Exec(t, region.AdminURL, `INSERT INTO campaigns (org_id, id, name, currency, commission_type, commission_bps)
		VALUES ($1, $2, 'Spring', 'EUR', 'percentage', 1000)`, org, campaign)
	dbtest.Exec(t, region.AdminURL, `INSERT INTO affiliates (org_id, id, email) VALUES ($1, $2, 'ada@example.com')`, org, affiliate)
	dbtest.Exec(t, region.AdminURL, `INSERT INTO promo_codes (org_id, id, code, affiliate_id, campaign_id) VALUES ($1, $2, 'SPRING', $3, $4)`,
		org, code, affiliate, campaign)
	return code
}

// tenantExec runs sql in a transaction of org's tenant and returns the rows
// it touched.
func tenantExec(ctx context.Context, conn *pgx.Conn, org uuid.UUID, sql string, args ...any) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('rekomi.org_id', $1, true)`, org.String()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// requireSQLState requires err to be a PostgreSQL error with code.
func requireSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, code, pgErr.Code, pgErr.Message)
}

// inlinedFunctions are the functions every policy reads its key through.
// They run without a SET clause, which would keep the planner from
// inlining them and cost a configuration save and restore per call; their
// bodies name every function, type and operator with its schema instead.
// A change to either body must keep that, and update this list.
var inlinedFunctions = map[string]string{
	"rekomi_current_org()": " SELECT CASE WHEN pg_catalog.current_setting('rekomi.org_id', true) OPERATOR(pg_catalog.<>) '' " +
		"THEN pg_catalog.current_setting('rekomi.org_id', true)::pg_catalog.uuid END ",
	"rekomi_route_key()": " SELECT CASE WHEN pg_catalog.current_setting('rekomi.route_key', true) OPERATOR(pg_catalog.<>) '' " +
		"THEN pg_catalog.current_setting('rekomi.route_key', true) END ",
}

// TestFunctionsHaveAFixedSearchPath requires every function of the schema
// to run with search_path = pg_catalog, pg_temp, so no caller's search_path
// (nor a temporary table, which comes first in it) changes what a name in
// its body means; only inlinedFunctions, with exactly their qualified
// bodies, run without one.
func TestFunctionsHaveAFixedSearchPath(t *testing.T) {
	t.Parallel()
	region := regiondb.New(t, dbtest.Start(t))
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	rows, err := admin.Query(ctx, `SELECT p.oid::regprocedure::text, p.prosrc, p.proconfig IS NULL FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'public'::regnamespace
		  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
		ORDER BY 1`)
	require.NoError(t, err)
	var loose []string
	inlined := map[string]string{}
	for rows.Next() {
		var name, body string
		var noConfig bool
		require.NoError(t, rows.Scan(&name, &body, &noConfig))
		if _, ok := inlinedFunctions[name]; ok && noConfig {
			inlined[name] = body
			continue
		}
		loose = append(loose, name)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, loose, "functions without a fixed search_path")
	require.Equal(t, inlinedFunctions, inlined, "the inlined functions keep their schema-qualified bodies")
	var n int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = 'public'::regnamespace`).Scan(&n))
	require.GreaterOrEqual(t, n, 7, "the schema's functions are found")
}

// TestTenantFunctionsIgnoreAHostileSearchPath puts a schema of look-alikes
// (current_setting, uuid's and text's <> operators) before pg_catalog in the
// search path: the tenant and route key functions still read the settings.
func TestTenantFunctionsIgnoreAHostileSearchPath(t *testing.T) {
	t.Parallel()
	region := regiondb.New(t, dbtest.Start(t))
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, `
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.current_setting(text, boolean) RETURNS text LANGUAGE sql
    AS $$ SELECT '00000000-0000-0000-0000-00000000beef' $$;
CREATE FUNCTION hostile.never_equal(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR hostile.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.never_equal)`)
	require.NoError(t, err)
	org := "3f1c2a9e-8d44-4b7a-9c55-0e6f2d1b7a10"
	tx, err := admin.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `SELECT set_config('search_path', 'hostile, pg_catalog, public', true),
		pg_catalog.set_config('rekomi.org_id', $1, true), pg_catalog.set_config('rekomi.route_key', 'r_abc', true)`, org)
	require.NoError(t, err)
	var got, key string
	require.NoError(t, tx.QueryRow(ctx, `SELECT public.rekomi_current_org()::text, public.rekomi_route_key()`).Scan(&got, &key))
	require.Equal(t, org, got, "the tenant is the setting, not a look-alike's answer")
	require.Equal(t, "r_abc", key)
	_, err = tx.Exec(ctx, `SELECT pg_catalog.set_config('rekomi.org_id', '', true)`)
	require.NoError(t, err)
	var none *string
	require.NoError(t, tx.QueryRow(ctx, `SELECT public.rekomi_current_org()::text`).Scan(&none))
	require.Nil(t, none, "an empty setting is no tenant")
}
