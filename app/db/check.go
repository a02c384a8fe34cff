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

	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// ErrUnsafe means the app must not serve: its role could bypass row-level
// security, or the schema does not enforce it.
var ErrUnsafe = errors.New("refusing to run: tenant isolation is not enforced")

// CheckIsolation verifies, as the connected role, that the role cannot
// bypass row-level security and that every tenant table enforces it with
// exactly the schema's policies. The app calls it before serving, refusing
// to start on an error, and then periodically, fencing its tenant routes
// while it fails.
func (d *DB) CheckIsolation(ctx context.Context) (isolation.Report, error) {
	var report isolation.Report
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var role string
		if err := tx.QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil {
			return fmt.Errorf("reading the connected role: %w", err)
		}
		var err error
		report, err = isolation.Verify(ctx, tx, isolation.Options{
			RuntimeRole:        role,
			PublicLookupTables: migrations.PublicLookupTables(),
			Policies:           migrations.Policies(),
		})
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
