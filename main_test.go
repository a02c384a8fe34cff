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

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/migrations"
)

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRun(t *testing.T) {
	t.Parallel()

	t.Run("NoArgumentsIsAUsageError", func(t *testing.T) {
		code, _, stderr := runArgs(t)
		require.Equal(t, 2, code)
		require.Contains(t, stderr, "Usage: rekomi <command>")
	})

	t.Run("HelpListsEveryCommand", func(t *testing.T) {
		code, stdout, _ := runArgs(t, "-h")
		require.Equal(t, 0, code)
		for _, c := range commands() {
			require.Contains(t, stdout, "  "+c.name+" ")
		}
	})

	t.Run("UnknownCommandIsAUsageError", func(t *testing.T) {
		code, _, stderr := runArgs(t, "serve")
		require.Equal(t, 2, code)
		require.Contains(t, stderr, `unknown command "serve"`)
	})

	t.Run("EachCommandPrintsItsUsage", func(t *testing.T) {
		for _, c := range commands() {
			code, stdout, _ := runArgs(t, c.name, "-h")
			require.Equal(t, 0, code, c.name)
			require.Contains(t, stdout, "Usage: rekomi "+c.name+" [flags]", c.name)
		}
	})

	t.Run("ManagerUsageListsItsFlags", func(t *testing.T) {
		_, stdout, _ := runArgs(t, "manager", "-h")
		for _, flag := range []string{"-leader-elect", "-metrics-bind-address", "-health-probe-bind-address", "-resync-period"} {
			require.Contains(t, stdout, flag)
		}
	})

	t.Run("UnknownFlagIsAUsageError", func(t *testing.T) {
		code, _, stderr := runArgs(t, "migrate", "--nope")
		require.Equal(t, 2, code)
		require.Contains(t, stderr, "flag provided but not defined: -nope")
	})

	t.Run("StrayArgumentIsAUsageError", func(t *testing.T) {
		code, _, stderr := runArgs(t, "version", "extra")
		require.Equal(t, 2, code)
		require.Contains(t, stderr, `unexpected argument "extra"`)
	})

	t.Run("UnimplementedCommandsFailWithOneLine", func(t *testing.T) {
		for _, name := range []string{"app", "dev"} {
			code, stdout, stderr := runArgs(t, name)
			require.Equal(t, 1, code, name)
			require.Empty(t, stdout, name)
			require.Equal(t, 1, strings.Count(stderr, "\n"), "one line for %s: %q", name, stderr)
			require.Contains(t, stderr, "rekomi "+name+": not implemented in this version", name)
		}
	})

	t.Run("VersionPrintsTheBuildVersion", func(t *testing.T) {
		code, stdout, _ := runArgs(t, "version")
		require.Equal(t, 0, code)
		require.True(t, strings.HasPrefix(stdout, "rekomi "+version+" (go"), stdout)
	})
}

func TestManagerRefusesBadFlags(t *testing.T) {
	t.Setenv("REKOMI_APP_IMAGE", "")
	code, _, stderr := runArgs(t, "manager")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no app image")

	code, _, stderr = runArgs(t, "manager", "--app-image", "rekomi:1", "--resync-period", "0s")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--resync-period must be positive")
}

func TestHelpNeverPrintsTheDatabaseURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://rekomi:s3cret-password@db:5432/rekomi")
	for _, name := range []string{"app", "migrate"} {
		_, stdout, stderr := runArgs(t, name, "-h")
		require.NotContains(t, stdout+stderr, "s3cret-password", name)
	}
}

func TestMigrateCommand(t *testing.T) {
	srv := dbtest.Start(t)
	url := srv.NewDatabase(t)
	latest, err := migrations.Latest()
	require.NoError(t, err)
	want := func(v uint) string {
		return fmt.Sprintf("schema at version %d (this binary knows up to %d)\n", v, latest)
	}

	code, stdout, stderr := runArgs(t, "migrate", "--database-url", url, "--version")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want(0), stdout)

	code, stdout, stderr = runArgs(t, "migrate", "--database-url", url)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want(latest), stdout)

	code, stdout, stderr = runArgs(t, "migrate", "--database-url", url, "--down", "1")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want(latest-1), stdout)

	t.Setenv("DATABASE_URL", url)
	code, stdout, stderr = runArgs(t, "migrate")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, want(latest), stdout, "DATABASE_URL is used when the flag is absent")

	code, _, stderr = runArgs(t, "migrate", "--down", "-1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--down must be positive")

	code, _, stderr = runArgs(t, "migrate", "--down", "1", "--version")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "exclude each other")

	dbtest.Exec(t, url, "UPDATE schema_migrations SET version = version + 1")
	code, _, stderr = runArgs(t, "migrate")
	require.Equal(t, exitNewerSchema, code)
	require.Contains(t, stderr, "schema is newer than this binary")
	code, _, _ = runArgs(t, "migrate", "--version")
	require.Equal(t, exitNewerSchema, code)

	dbtest.Exec(t, url, "UPDATE schema_migrations SET version = version - 1, dirty = true")
	code, _, stderr = runArgs(t, "migrate")
	require.Equal(t, exitDirtySchema, code)
	require.Contains(t, stderr, "schema is dirty at version")
	code, _, _ = runArgs(t, "migrate", "--version")
	require.Equal(t, exitDirtySchema, code)
}

func TestMigrateCommandWithoutDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	code, _, stderr := runArgs(t, "migrate")
	require.Equal(t, 2, code)
	require.Equal(t, "rekomi migrate: no database: pass --database-url or set DATABASE_URL\n", stderr)
}
