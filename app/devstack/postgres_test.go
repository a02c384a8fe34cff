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

package devstack

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPostgresOutsideAnUnreachableDir: as root, PostgreSQL runs as the
// postgres user; a state directory that user cannot enter (a work tree under
// a 0700 /root) gets its PostgreSQL data in a directory of its own outside,
// found again on the next start and discarded by --fresh. As any other
// user, PostgreSQL runs as that user, who reaches the state directory it
// owns: the data stays there.
func TestPostgresOutsideAnUnreachableDir(t *testing.T) {
	t.Parallel()
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700))
	// Short, as /var/tmp is: PostgreSQL's socket lives in its data directory,
	// whose path must leave room for it (107 bytes).
	shared, err := os.MkdirTemp("", "rkdev")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(shared) })
	require.NoError(t, os.Chmod(shared, 0o755))
	opts := Options{Dir: filepath.Join(private, "dev"), OutsideDir: shared}
	require.NoError(t, prepareDir(opts))
	outside, err := outsidePostgresDir(opts)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(outside, shared+"/rekomi-dev-"), outside)

	data := filepath.Join(outside, "eu")
	if os.Geteuid() != 0 {
		data = filepath.Join(opts.Dir, "postgres", "eu")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range 2 { // the second start finds the data of the first
		srv, err := startRegionPostgres(ctx, opts, "eu", io.Discard)
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, srv.URL())
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
		require.NoError(t, srv.Stop(ctx))
		require.DirExists(t, data)
	}

	opts.Fresh = true
	require.NoError(t, prepareDir(opts))
	require.NoDirExists(t, outside, "--fresh discards the data kept outside too")
	require.NoDirExists(t, data)
}
