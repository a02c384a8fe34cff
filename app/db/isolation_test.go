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
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// bundle is one migrated Region database with two seeded organizations.
type bundle struct {
	region *regiondb.DB
	admin  *pgx.Conn // bypasses row-level security: the ground truth
	app    *db.DB    // the runtime role
	orgA   uuid.UUID
	orgB   uuid.UUID
	tables []string // tenant tables, discovered from the catalog
}

func setup(t *testing.T, srv *dbtest.Server) *bundle {
	t.Helper()
	ctx := context.Background()
	region := regiondb.New(t, srv)
	admin, err := pgx.Connect(ctx, region.AdminURL)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	b := &bundle{region: region, admin: admin}
	b.orgA = seedOrg(t, admin, "acme")
	b.orgB = seedOrg(t, admin, "globex")

	report, err := isolation.Verify(ctx, admin, isolation.Options{
		RuntimeRole:        region.Runtime,
		PublicLookupTables: migrations.PublicLookupTables(),
	})
	require.NoError(t, err)
	require.True(t, report.OK(), report.Summary())
	require.GreaterOrEqual(t, len(report.TenantTables), 15)
	b.tables = report.TenantTables

	b.app, err = db.Open(ctx, region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(b.app.Close)
	return b
}

// tenantKey is the column holding a table's organization.
func tenantKey(table string) string {
	if table == "organizations" {
		return "id"
	}
	return "org_id"
}

// adminCount counts rows of table belonging to org, bypassing row-level
// security.
func (b *bundle) adminCount(t *testing.T, table string, org uuid.UUID) int {
	t.Helper()
	var n int
	sql := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = $1", pgx.Identifier{table}.Sanitize(), tenantKey(table))
	require.NoError(t, b.admin.QueryRow(context.Background(), sql, org).Scan(&n))
	return n
}

// rowJSON returns one of org's rows of table as JSON.
func (b *bundle) rowJSON(t *testing.T, table string, org uuid.UUID) []byte {
	t.Helper()
	var row []byte
	sql := fmt.Sprintf("SELECT to_jsonb(t) FROM %s t WHERE %s = $1 LIMIT 1", pgx.Identifier{table}.Sanitize(), tenantKey(table))
	require.NoError(t, b.admin.QueryRow(context.Background(), sql, org).Scan(&row))
	return row
}

// requireRefused checks err is the database refusing the statement
// (permission denied or a row-level security violation), not some other
// failure that would prove nothing.
func requireRefused(t *testing.T, err error) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "want a refusal from the database, got %v", err)
	require.Equal(t, "42501", pgErr.Code, "want insufficient_privilege, got %s: %s", pgErr.Code, pgErr.Message)
	require.ErrorIs(t, db.MapError(err), db.ErrForbidden)
}

// exec runs one statement for org (uuid.Nil: no organization) and returns the
// number of rows it changed.
func (b *bundle) exec(ctx context.Context, org uuid.UUID, sql string, args ...any) (int64, error) {
	var n int64
	run := func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	}
	if org == uuid.Nil {
		return n, b.app.PublicTx(ctx, run)
	}
	return n, b.app.TenantTx(ctx, org, run)
}

func (b *bundle) count(ctx context.Context, org uuid.UUID, sql string, args ...any) (int, error) {
	var n int
	run := func(tx pgx.Tx) error { return tx.QueryRow(ctx, sql, args...).Scan(&n) }
	if org == uuid.Nil {
		return n, b.app.PublicTx(ctx, run)
	}
	return n, b.app.TenantTx(ctx, org, run)
}

// TestIsolationMatrix proves, for every tenant table found in the catalog
// and for SELECT, INSERT, UPDATE and DELETE, that the runtime role working
// for organization A can neither see nor change organization B's rows, and
// that with no organization set it sees and changes nothing.
func TestIsolationMatrix(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv)
	ctx := context.Background()
	for _, table := range b.tables {
		ident, key := pgx.Identifier{table}.Sanitize(), tenantKey(table)
		t.Run(table, func(t *testing.T) {
			ownRows, otherRows := b.adminCount(t, table, b.orgA), b.adminCount(t, table, b.orgB)
			require.Positive(t, ownRows, "seed a row of %s for each organization", table)
			require.Positive(t, otherRows, "seed a row of %s for each organization", table)

			t.Run("SelectSeesOnlyOwnRows", func(t *testing.T) {
				n, err := b.count(ctx, b.orgA, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = $1", ident, key), b.orgB)
				requireAllowedOrRefused(t, err)
				require.Zero(t, n, "org A sees org B's rows of %s", table)
				n, err = b.count(ctx, b.orgA, "SELECT count(*) FROM "+ident)
				require.NoError(t, err)
				require.Equal(t, ownRows, n)
			})

			t.Run("InsertForOtherOrgIsRefused", func(t *testing.T) {
				row := b.rowJSON(t, table, b.orgB)
				_, err := b.exec(ctx, b.orgA, fmt.Sprintf(
					"INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::%s, $1)", ident, ident), row)
				requireRefused(t, err)
				require.Equal(t, otherRows, b.adminCount(t, table, b.orgB))
			})

			t.Run("UpdateOfOtherOrgChangesNothing", func(t *testing.T) {
				n, err := b.exec(ctx, b.orgA, fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s = $1", ident, key, key, key), b.orgB)
				requireNothingChanged(t, n, err)
			})

			t.Run("UpdateCannotMoveOwnRowToOtherOrg", func(t *testing.T) {
				_, err := b.exec(ctx, b.orgA, fmt.Sprintf("UPDATE %s SET %s = $2 WHERE %s = $1", ident, key, key), b.orgA, b.orgB)
				requireRefused(t, err)
				require.Equal(t, ownRows, b.adminCount(t, table, b.orgA))
			})

			t.Run("DeleteOfOtherOrgChangesNothing", func(t *testing.T) {
				n, err := b.exec(ctx, b.orgA, fmt.Sprintf("DELETE FROM %s WHERE %s = $1", ident, key), b.orgB)
				requireNothingChanged(t, n, err)
				require.Equal(t, otherRows, b.adminCount(t, table, b.orgB))
			})

			t.Run("NoOrgSetSeesAndChangesNothing", func(t *testing.T) {
				n, err := b.count(ctx, uuid.Nil, "SELECT count(*) FROM "+ident)
				requireAllowedOrRefused(t, err)
				require.Zero(t, n, "with no organization set, %s shows rows", table)
				row := b.rowJSON(t, table, b.orgA)
				_, err = b.exec(ctx, uuid.Nil, fmt.Sprintf(
					"INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_record(NULL::%s, $1)", ident, ident), row)
				requireRefused(t, err)
				changed, err := b.exec(ctx, uuid.Nil, fmt.Sprintf("UPDATE %s SET %s = %s", ident, key, key))
				requireNothingChanged(t, changed, err)
				changed, err = b.exec(ctx, uuid.Nil, "DELETE FROM "+ident)
				requireNothingChanged(t, changed, err)
				require.Equal(t, ownRows, b.adminCount(t, table, b.orgA))
			})

			t.Run("EmptyOrgSettingSeesNothing", func(t *testing.T) {
				var n int
				err := b.app.PublicTx(ctx, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "SELECT set_config('rekomi.org_id', '', true)"); err != nil {
						return err
					}
					return tx.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n)
				})
				requireAllowedOrRefused(t, err)
				require.Zero(t, n)
			})
		})
	}
}

// requireAllowedOrRefused accepts success or a privilege refusal (a table the
// runtime role may not read at all), and nothing else.
func requireAllowedOrRefused(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		requireRefused(t, err)
	}
}

// requireNothingChanged accepts a statement that changed no row, or one the
// database refused outright.
func requireNothingChanged(t *testing.T, n int64, err error) {
	t.Helper()
	if err != nil {
		requireRefused(t, err)
		return
	}
	require.Zero(t, n, "rows of another organization were changed")
}
