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

package pgserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/pgserver"
)

func TestStartAndStop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := pgserver.Start(ctx, pgserver.Options{})
	require.NoError(t, err, "the OS's PostgreSQL binaries are needed: run `make postgres`")

	conn, err := pgx.Connect(ctx, srv.URL())
	require.NoError(t, err)
	var listen string
	require.NoError(t, conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen))
	require.Equal(t, "127.0.0.1", listen, "the server must listen on loopback only")
	require.NoError(t, conn.Close(ctx))

	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(stopCtx))

	_, err = pgx.Connect(ctx, srv.URL())
	require.Error(t, err, "a stopped server must not accept connections")
}

func TestStartFailsClearlyWithoutBinaries(t *testing.T) {
	t.Parallel()
	_, err := pgserver.Start(context.Background(), pgserver.Options{BinDir: t.TempDir()})
	require.True(t, errors.Is(err, pgserver.ErrNoBinaries), "got %v", err)
	require.ErrorContains(t, err, "make postgres")
}

func TestDirKeepsTheClusterAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parent := t.TempDir()
	// As root the server runs as the postgres user, who must reach the
	// directory.
	require.NoError(t, os.Chmod(parent, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(parent), 0o755))
	dir := filepath.Join(parent, "pg")
	exec := func(srv *pgserver.Server, sql string) error {
		conn, err := pgx.Connect(ctx, srv.URL())
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	stop := func(srv *pgserver.Server) {
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(stopCtx))
	}

	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, exec(srv, "CREATE TABLE kept (id int)"))
	stop(srv)
	require.DirExists(t, filepath.Join(dir, "data"), "Stop keeps a cluster in Options.Dir")

	srv, err = pgserver.Start(ctx, pgserver.Options{Dir: dir})
	require.NoError(t, err)
	require.NoError(t, exec(srv, "INSERT INTO kept VALUES (1)"), "the table survived the restart")
	stop(srv)
}

// TestStartExplainsAnUnreachableDir: as root the server runs as the postgres
// user, so a directory under one that user cannot enter is refused up front,
// naming that directory and the fix, instead of initdb's bare "permission
// denied". Any other caller runs the server itself and reaches the directory.
func TestStartExplainsAnUnreachableDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parent := t.TempDir()
	require.NoError(t, os.Chmod(parent, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(parent), 0o755))
	private := filepath.Join(parent, "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	dir := filepath.Join(private, "pg")

	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if os.Geteuid() != 0 {
		require.NoError(t, err, "the caller runs the server and reaches its own directory")
		stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, srv.Stop(stopCtx))
		return
	}
	require.ErrorIs(t, err, pgserver.ErrDirUnreachable)
	require.ErrorContains(t, err, "cannot enter "+private+" (drwx------, owner root)")
	require.ErrorContains(t, err, "`chmod o+x "+private+"`")
	require.NotContains(t, err.Error(), parent+" (", "only the directory that blocks is named")
	require.NoDirExists(t, dir, "nothing is left behind")
}

// TestListenAndClients serves a second address on a fixed port and admits
// a network besides loopback only when told to.
func TestListenAndClients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	port := freeLoopbackPort(t)
	srv, err := pgserver.Start(ctx, pgserver.Options{Port: port, Listen: []string{"127.0.0.2"}, Clients: []string{"127.0.0.3/32"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop(ctx)) })
	require.Contains(t, srv.URL(), fmt.Sprintf("127.0.0.1:%d", port))

	// From 127.0.0.3, an admitted client, to the second address.
	require.NoError(t, connectFrom(ctx, srv.URL(), "127.0.0.2", "127.0.0.3"))
	// From 127.0.0.4, no admitted network.
	err = connectFrom(ctx, srv.URL(), "127.0.0.2", "127.0.0.4")
	require.ErrorContains(t, err, "no pg_hba.conf entry")
}

// connectFrom connects to the server of rawURL at address host, from the
// local address source.
func connectFrom(ctx context.Context, rawURL, host, source string) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return err
	}
	cfg.Host = host
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	cfg.DialFunc = dialer.DialContext
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRefusesAPortBusyOnAnotherAddress fails a start whose port is free on
// loopback but taken on another of its addresses, rather than serve
// loopback alone.
func TestRefusesAPortBusyOnAnotherAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.5:0")
	require.NoError(t, err)
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	_, err = pgserver.Start(context.Background(), pgserver.Options{Port: port, Listen: []string{"127.0.0.5"}})
	require.ErrorContains(t, err, "port already in use")
}
