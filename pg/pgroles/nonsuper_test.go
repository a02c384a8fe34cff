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
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/pg/pgroles"
)

// cloudAdmin creates a role with CREATEROLE and CREATEDB but not SUPERUSER,
// as managed PostgreSQL services hand out, and returns its name and a
// connection URL to the maintenance database.
func cloudAdmin(t *testing.T, srv *dbtest.Server) (name, url string) {
	t.Helper()
	name, password := dbtest.UniqueName("adm"), dbtest.UniqueName("admpw")
	srv.Exec(t, "CREATE ROLE "+ident(name)+" LOGIN CREATEROLE CREATEDB PASSWORD '"+password+"'")
	t.Cleanup(func() { srv.Exec(t, "DROP ROLE IF EXISTS "+ident(name)) })
	return name, dbtest.WithUser(t, srv.AdminURL(), name, password)
}

func testWorksWithNonSuperuserAdmin(t *testing.T, srv *dbtest.Server) {
	admName, admURL := cloudAdmin(t, srv) // registered first: dropped after the env's roles
	e := newEnv(t, srv)
	ctx := context.Background()
	adm := connect(t, admURL)

	res, err := pgroles.EnsureRoles(ctx, adm, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{
		"CreateRole " + e.spec.Owner.Name,
		"CreateRole " + e.spec.Runtime.Name,
		"GrantMembership " + admName,
		"CreateDatabase " + e.spec.Database,
		"RevokeDatabase " + e.spec.Database,
		"GrantDatabase " + e.spec.Database,
	}, kinds(res))
	super := e.superuser(t)
	e.requireRolesRight(t, super)
	e.requireLogin(t, e.spec.Owner)
	e.requireLogin(t, e.spec.Runtime)

	admRegion := connect(t, dbtest.WithDatabase(t, admURL, e.spec.Database))
	res, err = pgroles.EnsureSchema(ctx, admRegion, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{"AlterSchemaOwner public", "GrantSchema public"}, kinds(res))
	owner := e.as(t, e.spec.Owner.Name, e.spec.Owner.Password)
	exec(t, owner, "CREATE TABLE audit_log (id int)")
	grants := map[string][]pgroles.Privilege{"audit_log": {pgroles.Select, pgroles.Insert}}
	_, err = pgroles.EnsureTableGrants(ctx, admRegion, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Equal(t, []string{"SELECT", "INSERT"}, tablePrivileges(t, e, e.spec.Runtime.Name, "audit_log"))

	// Passwords are checked by logging in: a second run changes nothing.
	requireNoChanges(t, e, adm, admRegion, grants)

	ownerID, appID := ident(e.spec.Owner.Name), ident(e.spec.Runtime.Name)
	exec(t, super, "ALTER ROLE "+appID+" INHERIT CREATEROLE NOLOGIN")
	exec(t, super, "GRANT "+ownerID+" TO "+appID)
	exec(t, super, "ALTER ROLE "+ownerID+" PASSWORD 'changed by hand'")
	res, err = pgroles.EnsureRoles(ctx, adm, e.spec, e.log)
	require.NoError(t, err)
	require.Equal(t, []pgroles.Action{
		{Kind: pgroles.SetPassword, Target: e.spec.Owner.Name},
		{Kind: pgroles.AlterRole, Target: e.spec.Runtime.Name, Items: []string{
			"NOINHERIT", "NOCREATEROLE", "NOCREATEDB", "LOGIN", "CONNECTION LIMIT -1", "VALID UNTIL 'infinity'"}},
		{Kind: pgroles.RevokeMembership, Target: e.spec.Runtime.Name, Role: e.spec.Owner.Name, Grantor: "postgres"},
		{Kind: pgroles.SetPassword, Target: e.spec.Runtime.Name},
	}, res.Actions, "a NOLOGIN role's password cannot be checked by logging in, so it is set again")
	e.requireRolesRight(t, super)
	e.requireLogin(t, e.spec.Owner)
	e.requireLogin(t, e.spec.Runtime)
	require.Contains(t, e.logs.String(), "Could not verify the password")
	requireNoChanges(t, e, adm, admRegion, grants)
}

func requireNoChanges(t *testing.T, e *env, admin, region *pgx.Conn, grants map[string][]pgroles.Privilege) {
	t.Helper()
	ctx := context.Background()
	res, err := pgroles.EnsureRoles(ctx, admin, e.spec, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
	res, err = pgroles.EnsureSchema(ctx, region, e.spec, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
	res, err = pgroles.EnsureTableGrants(ctx, region, e.spec, grants, e.log)
	require.NoError(t, err)
	require.Empty(t, res.Actions)
}

func testReportsWhatNeedsASuperuser(t *testing.T, srv *dbtest.Server) {
	_, admURL := cloudAdmin(t, srv)
	e := newEnv(t, srv)
	ctx := context.Background()
	adm := connect(t, admURL)
	_, err := pgroles.EnsureRoles(ctx, adm, e.spec, e.log)
	require.NoError(t, err)
	super := e.superuser(t)

	for _, attr := range []string{"BYPASSRLS", "SUPERUSER", "REPLICATION"} {
		t.Run(attr, func(t *testing.T) {
			exec(t, super, fmt.Sprintf("ALTER ROLE %s %s", ident(e.spec.Runtime.Name), attr))
			t.Cleanup(func() { exec(t, super, fmt.Sprintf("ALTER ROLE %s NO%s", ident(e.spec.Runtime.Name), attr)) })

			res, err := pgroles.EnsureRoles(ctx, adm, e.spec, e.log)
			require.ErrorIs(t, err, pgroles.ErrSuperuserRequired)
			require.ErrorContains(t, err, attr)
			require.ErrorContains(t, err, e.spec.Runtime.Name)
			require.Empty(t, res.Actions)
			require.NotContains(t, err.Error(), e.spec.Runtime.Password)
		})
	}
}

func testRefusesTheAdminsOwnRole(t *testing.T, srv *dbtest.Server) {
	admName, admURL := cloudAdmin(t, srv)
	e := newEnv(t, srv)
	spec := e.spec
	spec.Owner.Name = admName
	_, err := pgroles.EnsureRoles(context.Background(), connect(t, admURL), spec, e.log)
	require.ErrorIs(t, err, pgroles.ErrInvalidSpec)
	require.ErrorContains(t, err, "admin")
	require.NotContains(t, e.logs.String(), "Applying", "nothing is changed")
}
