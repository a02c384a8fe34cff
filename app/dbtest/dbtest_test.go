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

package dbtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
)

func TestServer(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	ctx := context.Background()

	t.Run("RunsQueryAsNonSuperuserRole", func(t *testing.T) {
		dbURL := srv.NewDatabase(t)
		role, password := dbtest.UniqueName("role"), dbtest.UniqueName("pw")
		srv.Exec(t, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+
			" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '"+password+"'")
		t.Cleanup(func() { srv.Exec(t, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()) })

		conn, err := pgx.Connect(ctx, dbtest.WithUser(t, dbURL, role, password))
		require.NoError(t, err)
		defer conn.Close(ctx)

		var user string
		var super, bypass bool
		var sum int
		err = conn.QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolbypassrls, 40 + $1::int
			FROM pg_roles r WHERE r.rolname = current_user`, 2).Scan(&user, &super, &bypass, &sum)
		require.NoError(t, err)
		require.Equal(t, role, user)
		require.False(t, super, "the test role must not be a superuser")
		require.False(t, bypass, "the test role must not bypass RLS")
		require.Equal(t, 42, sum)
	})

	t.Run("RefusesWrongPassword", func(t *testing.T) {
		_, err := pgx.Connect(ctx, dbtest.WithUser(t, srv.AdminURL(), "postgres", "not-the-password"))
		require.Error(t, err, "the server must require a password")
	})

	t.Run("DatabasesAreSeparate", func(t *testing.T) {
		a, b := srv.NewDatabase(t), srv.NewDatabase(t)
		require.NotEqual(t, a, b)
		connA, err := pgx.Connect(ctx, a)
		require.NoError(t, err)
		defer connA.Close(ctx)
		_, err = connA.Exec(ctx, "CREATE TABLE only_in_a (id int)")
		require.NoError(t, err)

		connB, err := pgx.Connect(ctx, b)
		require.NoError(t, err)
		defer connB.Close(ctx)
		var exists bool
		require.NoError(t, connB.QueryRow(ctx, "SELECT to_regclass('only_in_a') IS NOT NULL").Scan(&exists))
		require.False(t, exists)
	})
}
