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
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/trust"
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
			if len(c.subcommands) == 0 {
				require.Contains(t, stdout, "Usage: rekomi "+c.name+" [flags]", c.name)
				continue
			}
			require.Contains(t, stdout, "Usage: rekomi "+c.name+" <command> [flags]", c.name)
			for _, sub := range c.subcommands {
				code, stdout, _ := runArgs(t, c.name, sub.name, "-h")
				require.Equal(t, 0, code, c.name+" "+sub.name)
				require.Contains(t, stdout, "Usage: rekomi "+c.name+" "+sub.name+" [flags]")
			}
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

	t.Setenv("OPERATOR_NAMESPACE", "")
	code, _, stderr = runArgs(t, "manager", "--app-image", "rekomi:1")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no operator namespace")
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

func TestAppRefusesToStart(t *testing.T) {
	srv := dbtest.Start(t)
	region := regiondb.New(t, srv)
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	data, err := ring.Marshal()
	require.NoError(t, err)
	ringFile := filepath.Join(t.TempDir(), "keyring.json")
	require.NoError(t, os.WriteFile(ringFile, data, 0o600))
	_, keyPEM, err := trust.GenerateKey(rand.Reader)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "private-key.pem")
	require.NoError(t, os.WriteFile(keyFile, keyPEM, 0o600))
	args := func(extra ...string) []string {
		return append([]string{"app", "--listen-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0", "--database-url", region.RuntimeURL,
			"--keyring-file", ringFile, "--trust-key-file", keyFile, "--region", "eu", "--location", "eu", "--public-base-url", "https://eu.example.com"}, extra...)
	}

	t.Run("WithoutRequiredConfiguration", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "")
		code, _, stderr := runArgs(t, "app")
		require.Equal(t, 2, code)
		require.Contains(t, stderr, "database URL is required")
		require.Contains(t, stderr, "location must be us or eu")
	})

	t.Run("WithABrokenKeyRing", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "keyring.json")
		require.NoError(t, os.WriteFile(bad, []byte(`{"version":1}`), 0o600))
		code, _, stderr := runArgs(t, append(args(), "--keyring-file", bad)...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "key ring")
	})

	t.Run("WithABrokenTrustKey", func(t *testing.T) {
		_, other, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		cases := map[string][]byte{
			"garbage":          []byte("not a key"),
			"a raw seed":       other.Seed(),
			"a public key PEM": []byte("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"),
			"two keys":         append(slices.Clone(keyPEM), keyPEM...),
		}
		for name, data := range cases {
			bad := filepath.Join(t.TempDir(), "private-key.pem")
			require.NoError(t, os.WriteFile(bad, data, 0o600))
			code, _, stderr := runArgs(t, append(args(), "--trust-key-file", bad)...)
			require.Equal(t, 1, code, name)
			require.Contains(t, stderr, "trust key", name)
		}
		code, _, stderr := runArgs(t, append(args(), "--trust-key-file", filepath.Join(t.TempDir(), "absent.pem"))...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "reading the trust key")
	})

	t.Run("HasNoRegionWideStripeKey", func(t *testing.T) {
		code, _, stderr := runArgs(t, append(args(), "--stripe-secret-key-file", "/etc/rekomi/stripe/secret-key")...)
		require.Equal(t, 2, code)
		require.Contains(t, stderr, "flag provided but not defined: -stripe-secret-key-file")
	})

	t.Run("AsARoleThatBypassesRLS", func(t *testing.T) {
		srv.Exec(t, "ALTER ROLE "+pgx.Identifier{region.Runtime}.Sanitize()+" BYPASSRLS")
		t.Cleanup(func() { srv.Exec(t, "ALTER ROLE "+pgx.Identifier{region.Runtime}.Sanitize()+" NOBYPASSRLS") })
		code, _, stderr := runArgs(t, args()...)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "refusing to run: tenant isolation is not enforced")
		require.Contains(t, stderr, "BYPASSRLS")
	})

	t.Run("ServesUntilCancelled", func(t *testing.T) {
		// The app binds the address of its flag and logs the one it bound
		// to the process's stderr only, so the port is picked here; should
		// another process take it first, the app is started again on another.
		const attempts = 3
		for attempt := 1; ; attempt++ {
			served, code, stderr := serveUntilCancelled(t, freeAddr(t), args())
			if served && code == 0 {
				return
			}
			if code != 0 && attempt < attempts && strings.Contains(stderr, syscall.EADDRINUSE.Error()) {
				t.Logf("starting again on another port: %s", stderr)
				continue
			}
			t.Fatalf("served /readyz: %t, exit code %d: %s", served, code, stderr)
		}
	})
}

// freeAddr is a localhost address no listener holds at the moment.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// serveUntilCancelled runs the app command with args on addr until it
// serves /readyz, then cancels it. It reports whether /readyz answered, the
// exit code and what the command printed to stderr.
func serveUntilCancelled(t *testing.T, addr string, args []string) (served bool, code int, stderr string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append(args, "--listen-address", addr), &out, &errOut) }()
	client := &http.Client{Timeout: 5 * time.Second}
	ready := func() bool {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case code := <-done:
			return false, code, errOut.String()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("the app has not served /readyz within %s: %s", timeout, errOut.String())
		}
	}
	cancel()
	code = <-done
	return true, code, errOut.String()
}
