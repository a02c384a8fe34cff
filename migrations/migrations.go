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

// Package migrations holds the schema of a Region database as numbered SQL
// files embedded in the binary, applies them with golang-migrate as the role
// of the given connection (the Region's owner role), and states which rows of
// which tables the runtime role may touch. It never creates roles: that is the
// operator's job.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed *.sql
var files embed.FS

var (
	// ErrDirty means a migration failed half-way and the schema needs a
	// human: fix the database, then force the version.
	ErrDirty = errors.New("schema is dirty")
	// ErrSchemaNewer means the database has migrations this binary does not
	// know: run a newer binary.
	ErrSchemaNewer = errors.New("schema is newer than this binary")
)

// Status is the schema version of a database next to the newest one this
// binary carries.
type Status struct {
	Version uint // 0: no migration applied
	Dirty   bool
	Latest  uint
}

// Latest returns the newest migration version embedded in the binary.
func Latest() (uint, error) {
	vs, err := versions()
	if err != nil || len(vs) == 0 {
		return 0, err
	}
	return vs[len(vs)-1], nil
}

// versions lists the embedded migration versions in ascending order.
func versions() ([]uint, error) {
	src, err := source()
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(src, "*.up.sql") // sorted by name, so by version
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	vs := make([]uint, 0, len(names))
	for _, name := range names {
		v, err := versionOf(name)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// versionOf is the version a migration's file name starts with.
func versionOf(name string) (uint, error) {
	prefix, _, _ := strings.Cut(name, "_")
	v, err := strconv.ParseUint(prefix, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("migration %s: name must start with its version number: %w", name, err)
	}
	return uint(v), nil
}

// appliedCount is how many embedded migrations are at or below version.
func appliedCount(version uint) (int, error) {
	vs, err := versions()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range vs {
		if v <= version {
			n++
		}
	}
	return n, nil
}

// Migrator applies the embedded migrations to one database.
type Migrator struct {
	db     *sql.DB
	m      *migrate.Migrate
	latest uint
}

// Open connects to databaseURL; the role in it owns the schema.
func Open(ctx context.Context, databaseURL string) (*Migrator, error) {
	latest, err := Latest()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s/%s as %s: %w", cfg.Host, cfg.Database, cfg.User, err)
	}
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing the migration table: %w", err)
	}
	sqlFiles, err := source()
	if err != nil {
		db.Close()
		return nil, err
	}
	src, err := iofs.New(sqlFiles, ".")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("preparing migrations: %w", err)
	}
	return &Migrator{db: db, m: m, latest: latest}, nil
}

// Close releases the connection.
func (mg *Migrator) Close() error {
	srcErr, dbErr := mg.m.Close()
	return errors.Join(srcErr, dbErr, mg.db.Close())
}

// Status reads the schema version.
func (mg *Migrator) Status() (Status, error) {
	v, dirty, err := mg.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return Status{Latest: mg.latest}, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("reading schema version: %w", err)
	}
	return Status{Version: v, Dirty: dirty, Latest: mg.latest}, nil
}

// Up applies every migration not applied yet and returns the new status.
func (mg *Migrator) Up(ctx context.Context) (Status, error) {
	return mg.run(ctx, mg.m.Up)
}

// Down rolls back n migrations and returns the new status.
func (mg *Migrator) Down(ctx context.Context, n int) (Status, error) {
	if n <= 0 {
		return Status{}, fmt.Errorf("rolling back: need a positive number of migrations, got %d", n)
	}
	st, err := mg.Status()
	if err != nil {
		return Status{}, err
	}
	applied, err := appliedCount(st.Version)
	if err != nil {
		return st, err
	}
	if n > applied {
		return st, fmt.Errorf("rolling back %d migrations: only %d applied (version %d)", n, applied, st.Version)
	}
	return mg.run(ctx, func() error { return mg.m.Steps(-n) })
}

func (mg *Migrator) run(ctx context.Context, step func() error) (Status, error) {
	before, err := mg.Status()
	if err != nil {
		return Status{}, err
	}
	if err := checkRunnable(before); err != nil {
		return before, err
	}
	stop := context.AfterFunc(ctx, func() {
		select {
		case mg.m.GracefulStop <- true:
		default:
		}
	})
	defer stop()
	err = step()
	after, statusErr := mg.Status()
	switch {
	case err == nil || errors.Is(err, migrate.ErrNoChange):
		return after, statusErr
	default:
		return after, fmt.Errorf("migrating from version %d: %w", before.Version, err)
	}
}

// checkRunnable refuses to touch a dirty schema or one this binary does not
// know all of.
func checkRunnable(s Status) error {
	if s.Dirty {
		return fmt.Errorf("%w at version %d: a migration failed part-way; repair the database, then mark the version", ErrDirty, s.Version)
	}
	if s.Version > s.Latest {
		return fmt.Errorf("%w: database at version %d, binary knows up to %d", ErrSchemaNewer, s.Version, s.Latest)
	}
	return nil
}

// Row is what Recorded reads with: a connection or a transaction.
type Row interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Recorded is the schema version golang-migrate recorded in q's database,
// 0 before the first migration, read with any role granted SELECT on
// schema_migrations (the runtime role is). A dirty version counts: a
// migration in progress marks its version dirty until it commits. Inside
// a transaction, a database never migrated aborts it.
func Recorded(ctx context.Context, q Row) (uint, error) {
	var version int64
	err := q.QueryRow(ctx, "SELECT version FROM schema_migrations").Scan(&version)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable:
		return 0, nil // never migrated
	case err != nil:
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return uint(version), nil
}
