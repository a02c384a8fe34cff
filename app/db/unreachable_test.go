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

package db_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
)

// TestUnreachable tells a database that cannot be asked from one that
// answered, with real failures of each kind.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := dbtest.Start(t)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = pgx.Connect(ctx, "postgres://nobody@"+closed+"/none?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	require.True(t, db.Unreachable(fmt.Errorf("checking: %w", err)), "refused: %v", err)

	// A login refused, as while a password rotates.
	u, err := url.Parse(srv.AdminURL())
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	_, err = pgx.Connect(ctx, u.String())
	require.Error(t, err)
	require.True(t, db.Unreachable(err), "login refused: %v", err)

	// A pool closed.
	pool, err := pgxpool.New(ctx, srv.AdminURL())
	require.NoError(t, err)
	pool.Close()
	err = pool.Ping(ctx)
	require.Error(t, err)
	require.True(t, db.Unreachable(err), "closed pool: %v", err)

	// Answers of the database are not.
	conn, err := pgx.Connect(ctx, srv.AdminURL())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT * FROM no_such_table")
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr))
	require.False(t, db.Unreachable(err), "%v", err)
	require.False(t, db.Unreachable(fmt.Errorf("%w: campaigns", db.ErrUnsafe)))
	require.False(t, db.Unreachable(nil))
}
