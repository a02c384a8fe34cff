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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/migrations"
)

func TestTenantTx(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv)
	ctx := context.Background()

	t.Run("RollsBackWhenItsFunctionPanics", func(t *testing.T) {
		// A handler's panic, recovered above the transaction, must not keep
		// its connection, its open transaction and the locks it holds.
		single, err := db.Open(ctx, b.region.RuntimeURL+"&pool_max_conns=1")
		require.NoError(t, err)
		defer single.Close()
		name := "panicked-" + uuid.NewString()
		func() {
			defer func() { require.Equal(t, "boom", recover()) }()
			_ = single.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO campaigns (org_id, name, currency, commission_type, commission_bps)
					VALUES ($1, $2, 'EUR', 'percentage', 2000)`, b.orgA, name); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		require.Zero(t, single.Stat().AcquiredConns(), "the connection went back to the pool")
		var n int
		require.NoError(t, single.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM campaigns WHERE name = $1", name).Scan(&n)
		}))
		require.Zero(t, n, "the panicked transaction's insert was rolled back")
	})

	t.Run("OrgSettingEndsWithTheTransaction", func(t *testing.T) {
		// One connection, so the second statement runs on the connection the
		// committed tenant transaction used.
		single, err := db.Open(ctx, b.region.RuntimeURL+"&pool_max_conns=1")
		require.NoError(t, err)
		defer single.Close()
		var inTx int
		require.NoError(t, single.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM campaigns").Scan(&inTx)
		}))
		require.Equal(t, 1, inTx)

		var setting string
		var after int
		require.NoError(t, single.PublicTx(ctx, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, "SELECT coalesce(current_setting('rekomi.org_id', true), '')").Scan(&setting); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT count(*) FROM campaigns").Scan(&after)
		}))
		require.Empty(t, setting, "the organization must not outlive its transaction")
		require.Zero(t, after)
	})

	t.Run("RefusesNilOrganization", func(t *testing.T) {
		called := false
		err := b.app.TenantTx(ctx, uuid.Nil, func(pgx.Tx) error { called = true; return nil })
		require.ErrorIs(t, err, db.ErrNoTenant)
		require.False(t, called)
	})

	t.Run("ErrorRollsBack", func(t *testing.T) {
		boom := errors.New("boom")
		err := b.app.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "UPDATE campaigns SET name = 'renamed'"); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		var name string
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT name FROM campaigns WHERE org_id = $1", b.orgA).Scan(&name))
		require.Equal(t, "Launch acme", name)
	})

	t.Run("CancelledContextRollsBack", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		err := b.app.TenantTx(cctx, b.orgA, func(tx pgx.Tx) error {
			if _, err := tx.Exec(cctx, "UPDATE campaigns SET name = 'cancelled'"); err != nil {
				return err
			}
			cancel()
			return cctx.Err()
		})
		require.ErrorIs(t, err, context.Canceled)
		var name string
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT name FROM campaigns WHERE org_id = $1", b.orgA).Scan(&name))
		require.Equal(t, "Launch acme", name)
		// The pool is still usable: the connection was returned clean.
		require.NoError(t, b.app.Ping(ctx))
	})

	t.Run("CompositeForeignKeyRefusesOtherOrgsRow", func(t *testing.T) {
		var otherAffiliate, ownCampaign uuid.UUID
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT id FROM affiliates WHERE org_id = $1", b.orgB).Scan(&otherAffiliate))
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT id FROM campaigns WHERE org_id = $1", b.orgA).Scan(&ownCampaign))
		err := b.app.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
				VALUES ($1, $2, $3, 'stolen-link', 'https://example.com/')`, b.orgA, otherAffiliate, ownCampaign)
			return db.MapError(err)
		})
		require.ErrorIs(t, err, db.ErrReference)
	})

	t.Run("UniqueKeysArePerOrganization", func(t *testing.T) {
		var otherEmail string
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT email FROM affiliates WHERE org_id = $1", b.orgB).Scan(&otherEmail))
		// The same email as org B's affiliate is no conflict for org A: the
		// database answers nothing that reveals org B has it.
		require.NoError(t, b.app.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO affiliates (org_id, email) VALUES ($1, $2)", b.orgA, otherEmail)
			return err
		}))
		// A duplicate within org A is a conflict, and the mapped error does
		// not quote the value.
		err := b.app.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO affiliates (org_id, email) VALUES ($1, $2)", b.orgA, otherEmail)
			return db.MapError(err)
		})
		require.ErrorIs(t, err, db.ErrConflict)
		require.NotContains(t, err.Error(), otherEmail)
	})

	t.Run("NotFoundIsMapped", func(t *testing.T) {
		err := b.app.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			var id uuid.UUID
			return db.MapError(tx.QueryRow(ctx, "SELECT id FROM campaigns WHERE org_id = $1", b.orgB).Scan(&id))
		})
		require.ErrorIs(t, err, db.ErrNotFound)
	})
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv)
	ctx := context.Background()

	for name, url := range map[string]string{"runtime": b.region.RuntimeURL, "owner": b.region.OwnerURL} {
		t.Run(name, func(t *testing.T) {
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer conn.Close(ctx)
			for _, stmt := range []string{
				"UPDATE audit_log SET action = 'organization.deleted'",
				"DELETE FROM audit_log",
				"TRUNCATE audit_log",
			} {
				tx, err := conn.Begin(ctx)
				require.NoError(t, err)
				_, err = tx.Exec(ctx, "SELECT set_config('rekomi.org_id', $1, true)", b.orgA.String())
				require.NoError(t, err)
				_, err = tx.Exec(ctx, stmt)
				requireRefused(t, err)
				require.NoError(t, tx.Rollback(ctx))
			}
			require.Equal(t, 1, b.adminCount(t, "audit_log", b.orgA))
		})
	}

	t.Run("RuntimeMayAppend", func(t *testing.T) {
		require.NoError(t, b.app.TenantTx(ctx, b.orgA, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id)
				VALUES ($1, 'system', 'test', 'campaign.created', 'campaign', 'c1')`, b.orgA)
			return err
		}))
		require.Equal(t, 2, b.adminCount(t, "audit_log", b.orgA))
	})
}

func TestCheckIsolation(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	ctx := context.Background()

	t.Run("PassesOnAProvisionedRegion", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		report, err := b.app.CheckIsolation(ctx)
		require.NoError(t, err)
		require.Equal(t, b.tables, report.TenantTables)
	})

	t.Run("RefusesARoleThatBypassesRLS", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		_, err := b.admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{b.region.Runtime}.Sanitize()+" BYPASSRLS")
		require.NoError(t, err)
		_, err = b.app.CheckIsolation(ctx)
		require.ErrorIs(t, err, db.ErrUnsafe)
		require.ErrorContains(t, err, "BYPASSRLS")
	})

	t.Run("RefusesATableWithoutForcedRLS", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		_, err := b.admin.Exec(ctx, "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
		require.NoError(t, err)
		_, err = b.app.CheckIsolation(ctx)
		require.ErrorIs(t, err, db.ErrUnsafe)
		require.ErrorContains(t, err, "campaigns")
	})

	t.Run("RefusesAnUnmigratedDatabase", func(t *testing.T) {
		t.Parallel()
		app, err := db.Open(ctx, srv.NewDatabase(t))
		require.NoError(t, err)
		defer app.Close()
		_, err = app.CheckIsolation(ctx)
		require.ErrorIs(t, err, db.ErrSchemaOlder)
		require.ErrorContains(t, err, "at version 0")
	})

	t.Run("RefusesASchemaOlderThanTheBinary", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		latest, err := migrations.Latest()
		require.NoError(t, err)
		_, err = b.admin.Exec(ctx, "UPDATE schema_migrations SET version = version - 1")
		require.NoError(t, err)
		_, err = b.app.CheckIsolation(ctx)
		require.ErrorIs(t, err, db.ErrSchemaOlder)
		require.ErrorContains(t, err, fmt.Sprintf("at version %d and this binary needs %d", latest-1, latest))
	})

	// A newer binary migrated the schema and added a tenant table; this
	// binary's pods serve until the newer ones replace them.
	newerSchema := func(t *testing.T, b *bundle, policy string) {
		t.Helper()
		_, err := b.admin.Exec(ctx, `CREATE TABLE notes (
				org_id uuid NOT NULL REFERENCES organizations (id),
				id     uuid NOT NULL,
				PRIMARY KEY (org_id, id));
			ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
			CREATE POLICY tenant_isolation ON notes USING (`+policy+`) WITH CHECK (org_id = (SELECT rekomi_current_org()));
			GRANT SELECT, INSERT ON notes TO `+pgx.Identifier{b.region.Runtime}.Sanitize())
		require.NoError(t, err)
	}
	bumpVersion := func(t *testing.T, b *bundle, dirty bool) {
		t.Helper()
		_, err := b.admin.Exec(ctx, "UPDATE schema_migrations SET version = version + 1, dirty = $1", dirty)
		require.NoError(t, err)
	}
	scoped := "org_id = (SELECT rekomi_current_org())"

	t.Run("ServesThroughTheRolloutOfANewerSchema", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		newerSchema(t, b, scoped)
		_, err := b.app.CheckIsolation(ctx)
		require.ErrorIs(t, err, db.ErrUnsafe, "at this binary's version, a table it does not know is drift")
		require.ErrorContains(t, err, `policy "tenant_isolation" on table "notes" is not one the schema defines`)

		// golang-migrate marks the version dirty until the migration commits.
		for _, dirty := range []bool{true, false} {
			bumpVersion(t, b, dirty)
			report, err := b.app.CheckIsolation(ctx)
			require.NoError(t, err, "dirty %t", dirty)
			require.Equal(t, []string{"notes"}, report.NewerTables)
			_, err = b.admin.Exec(ctx, "UPDATE schema_migrations SET version = version - 1")
			require.NoError(t, err)
		}
	})

	// golang-migrate records a version with TRUNCATE and INSERT in one
	// transaction, and TRUNCATE is not MVCC-safe: a check whose snapshot
	// predates the commit would find no version at all.
	t.Run("SeesTheVersionRecordedWhileItStarts", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		latest, err := migrations.Latest()
		require.NoError(t, err)
		record, err := b.admin.Begin(ctx)
		require.NoError(t, err)
		_, err = record.Exec(ctx, "TRUNCATE schema_migrations")
		require.NoError(t, err)
		_, err = record.Exec(ctx, "INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", latest)
		require.NoError(t, err)

		checked := make(chan error, 1)
		go func() {
			_, err := b.app.CheckIsolation(ctx)
			checked <- err
		}()
		observer, err := pgx.Connect(ctx, b.region.AdminURL)
		require.NoError(t, err)
		defer observer.Close(ctx)
		require.Eventually(t, func() bool {
			var waiting bool
			require.NoError(t, observer.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_locks
				WHERE relation = 'schema_migrations'::regclass AND NOT granted)`).Scan(&waiting))
			return waiting
		}, 10*time.Second, 10*time.Millisecond, "the check waits for the version being recorded")
		require.NoError(t, record.Commit(ctx))
		require.NoError(t, <-checked)
	})

	t.Run("RefusesALooseTableOfANewerSchema", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		newerSchema(t, b, "true")
		bumpVersion(t, b, false)
		_, err := b.app.CheckIsolation(ctx)
		require.ErrorIs(t, err, db.ErrUnsafe)
		require.ErrorContains(t, err, `policy "tenant_isolation" on table "notes" does not require org_id`)
	})
}
