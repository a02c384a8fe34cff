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

package pgroles_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/pg/pgroles"
)

func testProvisionsFromNothing(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	admin := e.superuser(t)

	res, err := pgroles.EnsureRoles(ctx, admin, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{
		"CreateRole " + e.spec.Owner.Name,
		"CreateRole " + e.spec.Runtime.Name,
		"CreateDatabase " + e.spec.Database,
		"RevokeDatabase " + e.spec.Database,
		"GrantDatabase " + e.spec.Database,
	}, kinds(res))

	e.requireRolesRight(t, admin)
	require.Equal(t, e.spec.Owner.Name, query[string](t, admin,
		"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", e.spec.Database))
	for role, want := range map[string]bool{"public": false, e.spec.Owner.Name: true, e.spec.Runtime.Name: true} {
		require.Equal(t, want, query[bool](t, admin, "SELECT has_database_privilege($1, $2, 'CONNECT')", role, e.spec.Database),
			"CONNECT for %s", role)
	}
	require.False(t, query[bool](t, admin, "SELECT has_database_privilege($1, $2, 'CREATE')", e.spec.Runtime.Name, e.spec.Database))
	e.requireLogin(t, e.spec.Owner)
	e.requireLogin(t, e.spec.Runtime)

	region := e.superuser(t, e.spec.Database)
	res, err = pgroles.EnsureSchema(ctx, region, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{"AlterSchemaOwner public", "GrantSchema public"}, kinds(res))
	require.Equal(t, e.spec.Owner.Name, query[string](t, region,
		"SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"))
	require.True(t, query[bool](t, region, "SELECT has_schema_privilege($1, 'public', 'USAGE')", e.spec.Runtime.Name))
	for _, role := range []string{"public", e.spec.Runtime.Name} {
		require.False(t, query[bool](t, region, "SELECT has_schema_privilege($1, 'public', 'CREATE')", role), role)
	}

	owner := e.as(t, e.spec.Owner.Name, e.spec.Owner.Password)
	exec(t, owner, "CREATE TABLE campaigns (id int)")
	runtime := e.as(t, e.spec.Runtime.Name, e.spec.Runtime.Password)
	_, err = runtime.Exec(ctx, "CREATE TABLE mine (id int)")
	requireSQLState(t, err, "42501")
}

func testSecondRunChangesNothing(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	e.provision(t)
	admin, region := e.superuser(t), e.superuser(t, e.spec.Database)
	owner := e.as(t, e.spec.Owner.Name, e.spec.Owner.Password)
	exec(t, owner, "CREATE TABLE audit_log (id int)")
	grants := map[string][]pgroles.Privilege{"audit_log": {pgroles.Select, pgroles.Insert}}
	_, err := pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)

	const rowVersions = `SELECT string_agg(rolname || ':' || xmin::text || ':' || rolpassword, ',' ORDER BY rolname)
		FROM pg_authid WHERE rolname IN ($1, $2)`
	rolesBefore := query[string](t, admin, rowVersions, e.spec.Owner.Name, e.spec.Runtime.Name)
	dbBefore := query[string](t, admin, "SELECT xmin::text || datacl::text FROM pg_database WHERE datname = $1", e.spec.Database)
	schemaBefore := query[string](t, region, "SELECT xmin::text || nspacl::text FROM pg_namespace WHERE nspname = 'public'")
	tableBefore := query[string](t, region, "SELECT xmin::text || relacl::text FROM pg_class WHERE oid = 'audit_log'::regclass")
	logged := len(e.logs.String())

	res, err := pgroles.EnsureRoles(ctx, admin, e.spec, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
	require.False(t, res.Changed())
	res, err = pgroles.EnsureSchema(ctx, region, e.spec, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)

	require.Equal(t, rolesBefore, query[string](t, admin, rowVersions, e.spec.Owner.Name, e.spec.Runtime.Name),
		"roles and verifiers must not be rewritten")
	require.Equal(t, dbBefore, query[string](t, admin, "SELECT xmin::text || datacl::text FROM pg_database WHERE datname = $1", e.spec.Database))
	require.Equal(t, schemaBefore, query[string](t, region, "SELECT xmin::text || nspacl::text FROM pg_namespace WHERE nspname = 'public'"))
	require.Equal(t, tableBefore, query[string](t, region, "SELECT xmin::text || relacl::text FROM pg_class WHERE oid = 'audit_log'::regclass"))
	require.NotContains(t, e.logs.String()[logged:], "Applying")
}

func testRepairsRoleAndDatabaseDrift(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	e.provision(t)
	admin := e.superuser(t)
	owner, runtime := ident(e.spec.Owner.Name), ident(e.spec.Runtime.Name)
	db := ident(e.spec.Database)
	exec(t, admin, "ALTER ROLE "+runtime+" BYPASSRLS SUPERUSER INHERIT CREATEROLE CREATEDB REPLICATION")
	exec(t, admin, "GRANT "+owner+" TO "+runtime)
	exec(t, admin, "GRANT pg_read_all_data TO "+runtime)
	exec(t, admin, "ALTER ROLE "+owner+" CREATEDB VALID UNTIL '2001-01-01' PASSWORD 'changed by hand'")
	exec(t, admin, "GRANT CONNECT, CREATE ON DATABASE "+db+" TO PUBLIC")
	exec(t, admin, "GRANT CREATE ON DATABASE "+db+" TO "+runtime+" WITH GRANT OPTION")

	res, err := pgroles.EnsureRoles(ctx, admin, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{
		"AlterRole " + e.spec.Owner.Name,
		"SetPassword " + e.spec.Owner.Name,
		"AlterRole " + e.spec.Runtime.Name,
		"RevokeMembership " + e.spec.Runtime.Name,
		"RevokeMembership " + e.spec.Runtime.Name,
		"RevokeDatabase " + e.spec.Database,
		"RevokeDatabase " + e.spec.Database,
	}, kinds(res))

	e.requireRolesRight(t, admin)
	e.requireLogin(t, e.spec.Owner)
	require.False(t, query[bool](t, admin, "SELECT has_database_privilege('public', $1, 'CONNECT')", e.spec.Database))
	require.False(t, query[bool](t, admin, "SELECT has_database_privilege($1, $2, 'CREATE')", e.spec.Runtime.Name, e.spec.Database))
	require.True(t, query[bool](t, admin, "SELECT has_database_privilege($1, $2, 'CONNECT')", e.spec.Runtime.Name, e.spec.Database))

	res, err = pgroles.EnsureRoles(ctx, admin, e.spec, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
}

func testReplacesAnMD5PasswordWithSCRAM(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	e.provision(t)
	admin := e.superuser(t)
	exec(t, admin, "SET password_encryption = 'md5'")
	exec(t, admin, "ALTER ROLE "+ident(e.spec.Runtime.Name)+" PASSWORD '"+e.spec.Runtime.Password+"'")
	exec(t, admin, "RESET password_encryption")

	res, err := pgroles.EnsureRoles(ctx, admin, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{"SetPassword " + e.spec.Runtime.Name}, kinds(res))
	require.Regexp(t, `^SCRAM-SHA-256\$4096:`, query[string](t, admin,
		"SELECT rolpassword FROM pg_authid WHERE rolname = $1", e.spec.Runtime.Name))
	e.requireLogin(t, e.spec.Runtime)
}

// requireSQLState checks that err is a PostgreSQL error with code.
func requireSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, code, pgErr.Code, pgErr.Message)
}
