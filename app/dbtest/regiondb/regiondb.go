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

// Package regiondb provisions a Region database for tests exactly as the
// operator does: owner and runtime roles and the database through
// pg/pgroles, the embedded migrations applied as the owner, then
// the runtime role's grants. Each call makes its own roles and database.
package regiondb

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/pgroles"
)

// DB is a provisioned, migrated Region database.
type DB struct {
	// AdminURL connects as the server's admin to the Region database; it
	// bypasses row-level security.
	AdminURL string
	// OwnerURL connects as the owner role.
	OwnerURL string
	// RuntimeURL connects as the runtime role, as the app does.
	RuntimeURL string
	// Owner and Runtime are the role names.
	Owner, Runtime string
}

// New provisions a Region database on srv; it is dropped, with its roles,
// when tb ends.
func New(tb testing.TB, srv *dbtest.Server) *DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := pgroles.Spec{
		Database: dbtest.UniqueName("region"),
		Owner:    pgroles.Role{Name: dbtest.UniqueName("owner"), Password: dbtest.UniqueName("pw")},
		Runtime:  pgroles.Role{Name: dbtest.UniqueName("app"), Password: dbtest.UniqueName("pw")},
	}
	tb.Cleanup(func() {
		srv.Exec(tb, "DROP DATABASE IF EXISTS "+pgx.Identifier{spec.Database}.Sanitize()+" WITH (FORCE)")
		srv.Exec(tb, "DROP ROLE IF EXISTS "+pgx.Identifier{spec.Runtime.Name}.Sanitize())
		srv.Exec(tb, "DROP ROLE IF EXISTS "+pgx.Identifier{spec.Owner.Name}.Sanitize())
	})

	maint := connect(tb, ctx, srv.AdminURL())
	if _, err := pgroles.EnsureRoles(ctx, maint, spec, logr.Discard()); err != nil {
		tb.Fatalf("provisioning roles and database: %v", err)
	}
	d := &DB{
		AdminURL: dbtest.WithDatabase(tb, srv.AdminURL(), spec.Database),
		Owner:    spec.Owner.Name,
		Runtime:  spec.Runtime.Name,
	}
	d.OwnerURL = dbtest.WithUser(tb, d.AdminURL, spec.Owner.Name, spec.Owner.Password)
	d.RuntimeURL = dbtest.WithUser(tb, d.AdminURL, spec.Runtime.Name, spec.Runtime.Password)

	regionAdmin := connect(tb, ctx, d.AdminURL)
	if _, err := pgroles.EnsureSchema(ctx, regionAdmin, spec, logr.Discard()); err != nil {
		tb.Fatalf("handing the schema to the owner: %v", err)
	}
	m, err := migrations.Open(ctx, d.OwnerURL)
	if err != nil {
		tb.Fatalf("opening migrations: %v", err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		tb.Fatalf("migrating as the owner: %v", err)
	}
	if _, err := pgroles.EnsureTableGrants(ctx, regionAdmin, spec, migrations.RuntimeGrants(), logr.Discard()); err != nil {
		tb.Fatalf("granting the runtime role: %v", err)
	}
	return d
}

func connect(tb testing.TB, ctx context.Context, url string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connecting as admin: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
