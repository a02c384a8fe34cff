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

// Package dbtest gives tests a real PostgreSQL server: the one named by
// REKOMI_TEST_DATABASE_URL when it is set, otherwise a throwaway server
// started from the OS's binaries and stopped when the test ends. A test that
// cannot get a server fails with a message that says how to fix it; it never
// skips.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/pgserver"
)

// EnvURL names the environment variable that points tests at an existing
// server. The role in it must be able to create databases and roles.
const EnvURL = "REKOMI_TEST_DATABASE_URL"

// Server is a PostgreSQL server reserved for one test (or one TestMain).
type Server struct {
	adminURL string
}

// AdminURL is a connection URL of a role that may create databases and roles.
func (s *Server) AdminURL() string { return s.adminURL }

// Start returns the server at REKOMI_TEST_DATABASE_URL, or starts a throwaway
// one that is stopped and deleted when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{adminURL: u}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Settings: fastSettings()})
	if err != nil {
		tb.Fatalf("starting a throwaway PostgreSQL for the test: %v\nfix: %s", err, startFix(err))
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			tb.Errorf("stopping the test PostgreSQL: %v", err)
		}
	})
	return &Server{adminURL: srv.URL()}
}

// startFix says how to fix a failed start of the throwaway server.
func startFix(err error) string {
	orURL := ", or set " + EnvURL + " to a server where you may create databases and roles"
	if errors.Is(err, pgserver.ErrDirUnreachable) {
		return "point TMPDIR at a directory the postgres user can reach, such as `TMPDIR=/var/tmp make test`" + orURL
	}
	return "run `make postgres`" + orURL
}

// fastSettings trade durability for speed: test data need not survive a
// power cut.
func fastSettings() map[string]string {
	return map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"max_connections":    "200",
	}
}

// NewDatabase creates an empty database with a unique name, dropped when tb
// ends, and returns the admin's connection URL to it.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := UniqueName("test")
	s.Exec(tb, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	tb.Cleanup(func() {
		s.Exec(tb, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return WithDatabase(tb, s.adminURL, name)
}

// Exec runs one statement as the admin on the maintenance database.
func (s *Server) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	Exec(tb, s.adminURL, sql, args...)
}

// Exec runs one statement on a new connection to connURL.
func Exec(tb testing.TB, connURL, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		tb.Fatalf("connecting to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("running %q: %v", sql, err)
	}
}

// WithDatabase returns connURL pointed at another database.
func WithDatabase(tb testing.TB, connURL, database string) string {
	tb.Helper()
	u, err := url.Parse(connURL)
	if err != nil {
		tb.Fatalf("parsing connection URL: %v", err)
	}
	u.Path = "/" + database
	return u.String()
}

// WithUser returns connURL with other credentials.
func WithUser(tb testing.TB, connURL, user, password string) string {
	tb.Helper()
	u, err := url.Parse(connURL)
	if err != nil {
		tb.Fatalf("parsing connection URL: %v", err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// UniqueName returns prefix followed by random hex, a valid unquoted
// PostgreSQL identifier, so tests sharing one server never collide.
func UniqueName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return prefix + "_" + hex.EncodeToString(b)
}
