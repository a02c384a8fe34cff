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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/pg/pgroles"
)

// TestPostgres runs every database test against one throwaway server. Roles
// are cluster-wide, so each subtest uses its own random role and database
// names.
func TestPostgres(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	for name, test := range map[string]func(*testing.T, *dbtest.Server){
		"ProvisionsFromNothing":          testProvisionsFromNothing,
		"SecondRunChangesNothing":        testSecondRunChangesNothing,
		"RepairsRoleAndDatabaseDrift":    testRepairsRoleAndDatabaseDrift,
		"RepairsSchemaDrift":             testRepairsSchemaDrift,
		"GrantsTablePrivilegesExactly":   testGrantsTablePrivilegesExactly,
		"RefusesGrantsForMissingTables":  testRefusesGrantsForMissingTables,
		"GrantsColumnPrivileges":         testGrantsColumnPrivileges,
		"NeverRevealsPasswords":          testNeverRevealsPasswords,
		"WorksWithNonSuperuserAdmin":     testWorksWithNonSuperuserAdmin,
		"ReportsWhatNeedsASuperuser":     testReportsWhatNeedsASuperuser,
		"RefusesTheAdminsOwnRole":        testRefusesTheAdminsOwnRole,
		"ReplacesAnMD5PasswordWithSCRAM": testReplacesAnMD5PasswordWithSCRAM,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, srv)
		})
	}
}

// env is one subtest's spec, logger and connections.
type env struct {
	srv  *dbtest.Server
	spec pgroles.Spec
	log  logr.Logger
	logs *logBuffer
}

func newEnv(t *testing.T, srv *dbtest.Server) *env {
	t.Helper()
	spec := pgroles.Spec{
		Database: dbtest.UniqueName("db"),
		Owner:    pgroles.Role{Name: dbtest.UniqueName("own"), Password: dbtest.UniqueName("ownerpw")},
		Runtime:  pgroles.Role{Name: dbtest.UniqueName("app"), Password: dbtest.UniqueName("apppw")},
	}
	t.Cleanup(func() {
		srv.Exec(t, "DROP DATABASE IF EXISTS "+ident(spec.Database)+" WITH (FORCE)")
		srv.Exec(t, "DROP ROLE IF EXISTS "+ident(spec.Runtime.Name)+", "+ident(spec.Owner.Name))
	})
	log, logs := newLogger()
	return &env{srv: srv, spec: spec, log: log, logs: logs}
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// connect opens a connection closed when t ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// superuser connects as the server's superuser, to the maintenance database
// or to database when it is given.
func (e *env) superuser(t *testing.T, database ...string) *pgx.Conn {
	url := e.srv.AdminURL()
	if len(database) > 0 {
		url = dbtest.WithDatabase(t, url, database[0])
	}
	return connect(t, url)
}

// as connects to the Region database as role with password.
func (e *env) as(t *testing.T, role, password string) *pgx.Conn {
	return connect(t, dbtest.WithUser(t, dbtest.WithDatabase(t, e.srv.AdminURL(), e.spec.Database), role, password))
}

// provision runs EnsureRoles and EnsureSchema as the superuser.
func (e *env) provision(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, err := pgroles.EnsureRoles(ctx, e.superuser(t), e.spec, e.log)
	require.NoError(t, err)
	_, err = pgroles.EnsureSchema(ctx, e.superuser(t, e.spec.Database), e.spec, e.log)
	require.NoError(t, err)
}

// exec runs sql on conn and fails the test on error.
func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), sql)
	require.NoError(t, err, sql)
}

// query returns the single value of a one-row query.
func query[T any](t *testing.T, conn *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, conn.QueryRow(context.Background(), sql, args...).Scan(&v), sql)
	return v
}

type attributes struct {
	Superuser, Inherit, CreateRole, CreateDB, Login, Replication, BypassRLS bool
}

func roleAttributes(t *testing.T, conn *pgx.Conn, role string) attributes {
	t.Helper()
	var a attributes
	err := conn.QueryRow(context.Background(), `SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb,
		rolcanlogin, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1`, role).
		Scan(&a.Superuser, &a.Inherit, &a.CreateRole, &a.CreateDB, &a.Login, &a.Replication, &a.BypassRLS)
	require.NoError(t, err)
	return a
}

var (
	ownerWant   = attributes{Inherit: true, Login: true}
	runtimeWant = attributes{Login: true}
)

// requireRolesRight checks both roles' attributes and that neither is a
// member of any role.
func (e *env) requireRolesRight(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	require.Equal(t, ownerWant, roleAttributes(t, conn, e.spec.Owner.Name), "owner attributes")
	require.Equal(t, runtimeWant, roleAttributes(t, conn, e.spec.Runtime.Name), "runtime attributes")
	for _, r := range []string{e.spec.Owner.Name, e.spec.Runtime.Name} {
		n := query[int](t, conn, `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
			WHERE r.rolname = $1`, r)
		require.Zero(t, n, "role %s must not be a member of any role", r)
	}
}

// requireLogin checks that role can log in to the Region database.
func (e *env) requireLogin(t *testing.T, role pgroles.Role) {
	t.Helper()
	conn := e.as(t, role.Name, role.Password)
	require.Equal(t, role.Name, query[string](t, conn, "SELECT current_user"))
}

// kinds lists the kinds of actions, in order.
func kinds(r pgroles.Result) []string {
	var k []string
	for _, a := range r.Actions {
		k = append(k, fmt.Sprintf("%s %s", a.Kind, a.Target))
	}
	return k
}

// logBuffer collects log lines from a funcr logger.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func newLogger() (logr.Logger, *logBuffer) {
	buf := &logBuffer{}
	log := funcr.New(func(prefix, args string) {
		buf.mu.Lock()
		defer buf.mu.Unlock()
		fmt.Fprintf(&buf.b, "%s %s\n", prefix, args)
	}, funcr.Options{Verbosity: 10})
	return log, buf
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
