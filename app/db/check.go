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

package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// ErrUnsafe means the app must not serve: its role could bypass row-level
// security, or the schema does not enforce it.
var ErrUnsafe = errors.New("refusing to run: tenant isolation is not enforced")

// ErrSchemaOlder means the database's schema is older than this binary's:
// the tables and columns it uses may not exist yet.
var ErrSchemaOlder = errors.New("refusing to run: the database schema is older than this binary")

// CheckIsolation verifies, as the connected role, that the role cannot
// bypass row-level security and that every tenant table enforces it with
// exactly the schema's policies, and that the schema is not older than
// this binary. The app calls it before serving, refusing to start on an
// error, and then periodically, fencing its tenant routes while it fails.
//
// A schema newer than this binary is the one a newer binary migrated
// before replacing this one's pods: the tables it added are held to the
// rules alone (isolation.Options.SchemaNewer), so that the old pods keep
// serving through the rollout.
func (d *DB) CheckIsolation(ctx context.Context) (isolation.Report, error) {
	latest, err := migrations.Latest()
	if err != nil {
		return isolation.Report{}, err
	}
	var report isolation.Report
	older := func(version uint) error {
		if version < latest {
			return fmt.Errorf("%w: it is at version %d and this binary needs %d; the operator migrates a Region when it runs this version, so upgrade the operator rather than the app alone", ErrSchemaOlder, version, latest)
		}
		return nil
	}
	err = d.catalogTx(ctx, older, func(tx pgx.Tx, _ uint, opts isolation.Options) error {
		report, err = isolation.Verify(ctx, tx, opts)
		return err
	})
	if err != nil {
		return report, fmt.Errorf("checking tenant isolation: %w", err)
	}
	if len(report.TenantTables) == 0 {
		return report, fmt.Errorf("%w: no tenant tables found (is the schema migrated?)", ErrUnsafe)
	}
	if !report.OK() {
		return report, fmt.Errorf("%w: %s", ErrUnsafe, report.Summary())
	}
	return report, nil
}

// catalogTx runs fn in a read-only REPEATABLE READ transaction of the
// connected role, with the schema version read first (lockedVersion) and
// the isolation verifier's options for the role and that version. check,
// when given, refuses a version before any other statement: a database
// never migrated has already aborted the transaction.
func (d *DB) catalogTx(ctx context.Context, check func(version uint) error, fn func(tx pgx.Tx, version uint, opts isolation.Options) error) error {
	latest, err := migrations.Latest()
	if err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// First, before any statement takes the snapshot.
		version, err := lockedVersion(ctx, tx)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(version); err != nil {
				return err
			}
		}
		var role string
		if err := tx.QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil {
			return fmt.Errorf("reading the connected role: %w", err)
		}
		return fn(tx, version, isolation.Options{
			RuntimeRole:        role,
			PublicLookupTables: migrations.PublicLookupTables(),
			Policies:           migrations.Policies(),
			SchemaNewer:        version > latest,
		})
	})
}

// MeasureTrust measures, as the connected role and in one snapshot, what
// the Region's /trust page claims of its database, and reads the schema
// version it measured at.
func (d *DB) MeasureTrust(ctx context.Context, now time.Time) (trust.Measurement, uint, error) {
	var m trust.Measurement
	var schema uint
	err := d.catalogTx(ctx, nil, func(tx pgx.Tx, version uint, opts isolation.Options) error {
		schema = version
		var err error
		m, err = trust.Measure(ctx, tx, opts, now)
		return err
	})
	if err != nil {
		return m, 0, fmt.Errorf("measuring the trust claims: %w", err)
	}
	return m, schema, nil
}

// lockedVersion reads the schema version under a lock taken before the
// transaction's snapshot. golang-migrate records a version with TRUNCATE
// and INSERT, and TRUNCATE is not MVCC-safe: a snapshot taken before that
// commits finds the table empty, as if the schema were never migrated.
// LOCK TABLE takes no snapshot; holding it, no version is recorded until
// the check ends.
func lockedVersion(ctx context.Context, tx pgx.Tx) (uint, error) {
	_, err := tx.Exec(ctx, "LOCK TABLE schema_migrations IN ACCESS SHARE MODE")
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable:
		return 0, nil // never migrated
	case err != nil:
		return 0, fmt.Errorf("locking the schema version: %w", err)
	}
	return migrations.Recorded(ctx, tx)
}
