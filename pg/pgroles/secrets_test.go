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
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/pg/pgroles"
)

func testNeverRevealsPasswords(t *testing.T, srv *dbtest.Server) {
	e := newEnv(t, srv)
	ctx := context.Background()
	admin := e.superuser(t)
	var results []pgroles.Result
	run := func(spec pgroles.Spec) {
		res, err := pgroles.EnsureRoles(ctx, admin, spec, e.log)
		require.NoError(t, err)
		results = append(results, res)
	}
	verifiers := func() []string {
		rows, err := admin.Query(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname IN ($1, $2)",
			e.spec.Owner.Name, e.spec.Runtime.Name)
		require.NoError(t, err)
		var v []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			// The whole verifier, its salt, StoredKey and ServerKey.
			v = append(v, s)
			v = append(v, strings.FieldsFunc(strings.TrimPrefix(s, "SCRAM-SHA-256$4096:"),
				func(r rune) bool { return r == '$' || r == ':' })...)
		}
		require.NoError(t, rows.Err())
		return v
	}

	run(e.spec)
	secrets := append([]string{e.spec.Owner.Password, e.spec.Runtime.Password}, verifiers()...)

	changed := e.spec
	changed.Owner.Password, changed.Runtime.Password = dbtest.UniqueName("newownerpw"), dbtest.UniqueName("newapppw")
	run(changed)
	require.Equal(t, []pgroles.Action{
		{Kind: pgroles.SetPassword, Target: e.spec.Owner.Name},
		{Kind: pgroles.SetPassword, Target: e.spec.Runtime.Name},
	}, results[1].Actions)
	secrets = append(secrets, changed.Owner.Password, changed.Runtime.Password)
	secrets = append(secrets, verifiers()...)

	// A statement carrying a verifier that fails: an admin without
	// CREATEROLE cannot create the roles of another spec.
	weak := newEnv(t, srv)
	weakName, weakPassword := dbtest.UniqueName("weak"), dbtest.UniqueName("weakpw")
	srv.Exec(t, "CREATE ROLE "+ident(weakName)+" LOGIN CREATEDB PASSWORD '"+weakPassword+"'")
	t.Cleanup(func() { srv.Exec(t, "DROP ROLE IF EXISTS "+ident(weakName)) })
	weakAdmin := connect(t, dbtest.WithUser(t, srv.AdminURL(), weakName, weakPassword))
	res, err := pgroles.EnsureRoles(ctx, weakAdmin, weak.spec, e.log)
	require.ErrorContains(t, err, "permission denied to create role")
	require.NotContains(t, err.Error(), "SCRAM-SHA-256")
	results = append(results, res)
	secrets = append(secrets, weak.spec.Owner.Password, weak.spec.Runtime.Password)

	logs := e.logs.String()
	require.Contains(t, logs, "SetPassword", "password changes are logged, without the password")
	require.NotContains(t, logs, "SCRAM-SHA-256")
	for _, s := range secrets {
		require.NotContains(t, logs, s)
		require.NotContains(t, fmt.Sprintf("%+v %v", results, results), s)
		require.NotContains(t, err.Error(), s)
	}
}
