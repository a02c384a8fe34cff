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

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/pg/pgroles"
)

var tableKinds = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}

// tablePrivileges lists the privileges role holds on public.table, checking
// every kind.
func tablePrivileges(t *testing.T, e *env, role, table string) []string {
	t.Helper()
	conn := e.superuser(t, e.spec.Database)
	var held []string
	for _, p := range tableKinds {
		if query[bool](t, conn, "SELECT has_table_privilege($1, $2, $3)", role, "public."+table, p) {
			held = append(held, p)
		}
	}
	return held
}

func testGrantsTablePrivilegesExactly(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	e.provision(t)
	owner := e.as(t, e.spec.Owner.Name, e.spec.Owner.Password)
	exec(t, owner, "CREATE TABLE audit_log (id int, note text)")
	exec(t, owner, "CREATE TABLE campaigns (id int)")
	exec(t, owner, "CREATE TABLE secrets (id int)")
	exec(t, owner, "CREATE VIEW campaign_ids WITH (security_invoker) AS SELECT id FROM campaigns")
	grants := map[string][]pgroles.Privilege{
		"audit_log":    {pgroles.Select, pgroles.Insert},
		"campaigns":    {pgroles.Select, pgroles.Insert, pgroles.Update, pgroles.Delete},
		"campaign_ids": {pgroles.Select},
	}
	region := e.superuser(t, e.spec.Database)
	app := e.spec.Runtime.Name

	res, err := pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Len(t, res.Actions, 3)
	requireExact := func() {
		t.Helper()
		require.Equal(t, []string{"SELECT", "INSERT"}, tablePrivileges(t, e, app, "audit_log"))
		require.Equal(t, []string{"SELECT", "INSERT", "UPDATE", "DELETE"}, tablePrivileges(t, e, app, "campaigns"))
		require.Equal(t, []string{"SELECT"}, tablePrivileges(t, e, app, "campaign_ids"))
		require.Empty(t, tablePrivileges(t, e, app, "secrets"))
		for _, table := range []string{"audit_log", "campaigns", "secrets", "campaign_ids"} {
			require.Empty(t, tablePrivileges(t, e, "public", table), "PUBLIC on %s", table)
		}
		require.False(t, query[bool](t, region, "SELECT has_column_privilege($1, 'public.audit_log', 'note', 'UPDATE')", app))
	}
	requireExact()

	runtime := e.as(t, app, e.spec.Runtime.Password)
	exec(t, runtime, "INSERT INTO audit_log VALUES (1, 'created')")
	exec(t, runtime, "SELECT * FROM audit_log")
	_, err = runtime.Exec(ctx, "UPDATE audit_log SET note = 'rewritten'")
	requireSQLState(t, err, "42501")
	_, err = runtime.Exec(ctx, "SELECT * FROM secrets")
	requireSQLState(t, err, "42501")
	_, err = runtime.Exec(ctx, "CREATE TABLE public.mine (id int)")
	requireSQLState(t, err, "42501")

	exec(t, owner, "GRANT TRUNCATE, UPDATE, REFERENCES ON audit_log TO "+ident(app))
	exec(t, owner, "GRANT UPDATE (note) ON audit_log TO "+ident(app))
	exec(t, owner, "GRANT SELECT ON campaigns TO "+ident(app)+" WITH GRANT OPTION")
	exec(t, owner, "GRANT TRIGGER ON secrets TO "+ident(app))
	exec(t, owner, "GRANT SELECT ON secrets, campaign_ids TO PUBLIC")

	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Equal(t, []pgroles.Action{
		{Kind: pgroles.RevokeTable, Target: "audit_log", Role: app, Items: []string{"REFERENCES", "TRUNCATE", "UPDATE"}},
		{Kind: pgroles.RevokeTable, Target: "campaign_ids", Role: pgroles.PublicGrantee, Items: []string{"SELECT"}},
		{Kind: pgroles.RevokeTable, Target: "campaigns", Role: app, Items: []string{"SELECT"}},
		{Kind: pgroles.GrantTable, Target: "campaigns", Role: app, Items: []string{"SELECT"}},
		{Kind: pgroles.RevokeTable, Target: "secrets", Role: app, Items: []string{"TRIGGER"}},
		{Kind: pgroles.RevokeTable, Target: "secrets", Role: pgroles.PublicGrantee, Items: []string{"SELECT"}},
	}, res.Actions)
	requireExact()
	require.False(t, query[bool](t, region, "SELECT has_table_privilege($1, 'public.campaigns', 'SELECT WITH GRANT OPTION')", app))

	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
}

func testRefusesGrantsForMissingTables(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	e.provision(t)
	owner := e.as(t, e.spec.Owner.Name, e.spec.Owner.Password)
	exec(t, owner, "CREATE TABLE audit_log (id int)")
	exec(t, owner, "GRANT SELECT ON audit_log TO "+ident(e.spec.Runtime.Name))
	region := e.superuser(t, e.spec.Database)

	res, err := pgroles.EnsureTableGrants(context.Background(), region, e.spec,
		map[string][]pgroles.Privilege{"audit_logs": {pgroles.Select}}, e.log)
	require.ErrorIs(t, err, pgroles.ErrUnknownTable)
	require.ErrorContains(t, err, "audit_logs")
	require.Empty(t, res.Actions)
	require.Equal(t, []string{"SELECT"}, tablePrivileges(t, e, e.spec.Runtime.Name, "audit_log"),
		"nothing is revoked when the grants name a missing table")

	_, err = pgroles.EnsureTableGrants(context.Background(), e.superuser(t), e.spec, nil, e.log)
	require.ErrorIs(t, err, pgroles.ErrInvalidSpec, "a connection to another database is refused")
}

func testRepairsSchemaDrift(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	e.provision(t)
	region := e.superuser(t, e.spec.Database)
	app := ident(e.spec.Runtime.Name)
	exec(t, region, "GRANT CREATE ON SCHEMA public TO PUBLIC")
	exec(t, region, "GRANT CREATE ON SCHEMA public TO "+app)
	exec(t, region, "ALTER SCHEMA public OWNER TO "+app)

	res, err := pgroles.EnsureSchema(ctx, region, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{"AlterSchemaOwner public", "RevokeSchema public", "GrantSchema public"}, kinds(res))
	require.Equal(t, e.spec.Owner.Name, query[string](t, region,
		"SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"))
	for _, role := range []string{"public", e.spec.Runtime.Name} {
		require.False(t, query[bool](t, region, "SELECT has_schema_privilege($1, 'public', 'CREATE')", role), role)
	}
	require.True(t, query[bool](t, region, "SELECT has_schema_privilege($1, 'public', 'USAGE')", e.spec.Runtime.Name))

	res, err = pgroles.EnsureSchema(ctx, region, e.spec, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
}

func testGrantsColumnPrivileges(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	e.provision(t)
	owner := e.as(t, e.spec.Owner.Name, e.spec.Owner.Password)
	exec(t, owner, "CREATE TABLE api_keys (id int, hash text, revoked_at timestamptz)")
	exec(t, owner, "INSERT INTO api_keys VALUES (1, 'h', NULL)")
	app := e.spec.Runtime.Name
	exec(t, owner, "GRANT SELECT, UPDATE ON api_keys TO "+ident(app))
	region := e.superuser(t, e.spec.Database)
	grants := map[string][]pgroles.Privilege{"api_keys": {pgroles.Select, pgroles.Column(pgroles.Update, "revoked_at")}}

	res, err := pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Equal(t, []pgroles.Action{
		{Kind: pgroles.RevokeTable, Target: "api_keys", Role: app, Items: []string{"UPDATE"}},
		{Kind: pgroles.GrantTable, Target: "api_keys", Role: app, Items: []string{"UPDATE(revoked_at)"}},
	}, res.Actions)
	runtime := e.as(t, app, e.spec.Runtime.Password)
	exec(t, runtime, "UPDATE api_keys SET revoked_at = now() WHERE id = 1")
	_, err = runtime.Exec(ctx, "UPDATE api_keys SET hash = 'mine' WHERE id = 1")
	requireSQLState(t, err, "42501")

	exec(t, owner, "GRANT UPDATE (hash) ON api_keys TO "+ident(app))
	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Equal(t, []pgroles.Action{
		{Kind: pgroles.RevokeTable, Target: "api_keys", Role: app, Items: []string{"UPDATE(hash)"}},
	}, res.Actions)
	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)

	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec,
		map[string][]pgroles.Privilege{"api_keys": {pgroles.Column(pgroles.Update, "revoked")}}, e.log)
	require.ErrorIs(t, err, pgroles.ErrUnknownColumn)
	require.Empty(t, res.Actions, "nothing is changed when a grant names a missing column")

	_, err = pgroles.EnsureTableGrants(ctx, region, e.spec,
		map[string][]pgroles.Privilege{"api_keys": {pgroles.Column(pgroles.Delete, "hash")}}, e.log)
	require.ErrorIs(t, err, pgroles.ErrInvalidSpec)
	_, err = pgroles.EnsureTableGrants(ctx, region, e.spec,
		map[string][]pgroles.Privilege{"api_keys": {pgroles.Column(pgroles.Update, "hash; DROP TABLE api_keys")}}, e.log)
	require.ErrorIs(t, err, pgroles.ErrInvalidSpec)
}
