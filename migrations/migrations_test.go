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

package migrations_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// ownerDatabase creates a database owned by a new NOSUPERUSER role, as the
// operator provisions it, and returns that role's URL to it.
func ownerDatabase(t *testing.T, srv *dbtest.Server) string {
	t.Helper()
	role, password, name := dbtest.UniqueName("owner"), dbtest.UniqueName("pw"), dbtest.UniqueName("region")
	ident := pgx.Identifier{role}.Sanitize()
	srv.Exec(t, "CREATE ROLE "+ident+" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '"+password+"'")
	srv.Exec(t, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+ident)
	t.Cleanup(func() {
		srv.Exec(t, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		srv.Exec(t, "DROP ROLE IF EXISTS "+ident)
	})
	return dbtest.WithUser(t, dbtest.WithDatabase(t, srv.AdminURL(), name), role, password)
}

// migratedConn migrates a new database as its owner and connects to it as
// the owner, until t ends.
func migratedConn(t *testing.T, srv *dbtest.Server) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	url := ownerDatabase(t, srv)
	_, err := openMigrator(t, url).Up(ctx)
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return conn
}

func openMigrator(t *testing.T, url string) *migrations.Migrator {
	t.Helper()
	m, err := migrations.Open(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

// catalog describes the schema: tables and columns, constraints, indexes,
// policies, triggers and functions, one line each, sorted.
func catalog(t *testing.T, url string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
		  FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
		  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		UNION ALL
		SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT 'policy ' || tablename || '.' || policyname || ' ' || cmd || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
		  FROM pg_policies WHERE schemaname = 'public'
		UNION ALL
		SELECT 'rls ' || relname || ' ' || relrowsecurity || ' ' || relforcerowsecurity
		  FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'
		UNION ALL
		SELECT 'trigger ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
		  FROM pg_trigger WHERE NOT tgisinternal
		UNION ALL
		SELECT 'function ' || p.oid::regprocedure || ' ' || md5(p.prosrc)
		  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
		ORDER BY 1`)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return lines
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	ctx := context.Background()

	latest, err := migrations.Latest()
	require.NoError(t, err)
	require.GreaterOrEqual(t, latest, uint(4))

	t.Run("UpAppliesEveryMigrationAsTheOwner", func(t *testing.T) {
		t.Parallel()
		m := openMigrator(t, ownerDatabase(t, srv))
		st, err := m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, migrations.Status{Version: latest, Latest: latest}, st)

		again, err := m.Up(ctx)
		require.NoError(t, err, "a second up is a no-op")
		require.Equal(t, st, again)
	})

	t.Run("UpDownUpLeavesTheSameCatalog", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		first := catalog(t, url)
		require.NotEmpty(t, first)

		st, err := m.Down(ctx, int(latest))
		require.NoError(t, err)
		require.Equal(t, uint(0), st.Version)
		require.Equal(t, []string{
			"column schema_migrations.dirty boolean NO ",
			"column schema_migrations.version bigint NO ",
			"constraint schema_migrations schema_migrations_pkey PRIMARY KEY (version)",
			"index CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (version)",
			"rls schema_migrations false false",
		}, catalog(t, url), "down to zero removes everything but the version table")

		_, err = m.Up(ctx)
		require.NoError(t, err)
		require.Equal(t, first, catalog(t, url))
	})

	t.Run("DownStepsBackOneVersion", func(t *testing.T) {
		t.Parallel()
		m := openMigrator(t, ownerDatabase(t, srv))
		_, err := m.Up(ctx)
		require.NoError(t, err)
		st, err := m.Down(ctx, 1)
		require.NoError(t, err)
		require.Equal(t, latest-1, st.Version)
	})

	t.Run("AuditChainsVerifyAcrossTheHashFunctionRewrite", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		_, err = m.Down(ctx, int(latest)-6) // back to 0006: the LANGUAGE sql hash
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		org := "6a1c2f0e-8f4e-4a43-9a4f-0c2a8a2b7e11"
		_, err = conn.Exec(ctx, `SELECT set_config('rekomi.org_id', $1, false)`, org)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, 'acme', 'Acme', 'pro')`, org)
		require.NoError(t, err)
		appendEntries := func(action string, ip *string) {
			_, err := conn.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id, ip, metadata)
				SELECT $1, 'api_key', 'k' || i, $2, 'campaign', 'c' || i, $3::inet, jsonb_build_object('n', i, 'é', 'ü')
				FROM generate_series(1, 3) i`, org, action, ip)
			require.NoError(t, err)
		}
		ip := "192.0.2.1/24"
		verifies := func() bool {
			var ok bool
			require.NoError(t, conn.QueryRow(ctx, `SELECT bool_and(hash = rekomi_audit_entry_hash(prev_hash, a)) FROM audit_log a`).Scan(&ok))
			return ok
		}
		appendEntries("campaign.created", &ip)
		_, err = m.Up(ctx)
		require.NoError(t, err)
		require.True(t, verifies(), "entries hashed by the old function verify with the new one")
		appendEntries("campaign.updated", nil) // a plaintext ip is refused since 0017
		_, err = m.Down(ctx, int(latest)-6)
		require.NoError(t, err)
		require.True(t, verifies(), "entries hashed by the new function verify with the old one")
	})

	t.Run("AuditChainsWrittenBeforeSealingStillVerify", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		_, err = m.Down(ctx, int(latest)-16) // back to 0016, before sealing: plaintext ip and user agent
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		org := "0b6f4f86-4f0f-4b5e-9d7e-3c8a6f1d2e44"
		_, err = conn.Exec(ctx, `SELECT set_config('rekomi.org_id', $1, false)`, org)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, 'initech', 'Initech', 'pro')`, org)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, metadata)
			SELECT $1, 'api_key', 'k', 'affiliate.invited', 'affiliate', 'a' || i, '198.51.100.7', 'curl/8',
			       jsonb_build_object('email', 'ann@example.com')
			FROM generate_series(1, 2) i`, org)
		require.NoError(t, err)
		var before []byte
		require.NoError(t, conn.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = 2`).Scan(&before))
		verifies := func() bool {
			var ok bool
			require.NoError(t, conn.QueryRow(ctx, `SELECT bool_and(hash = rekomi_audit_entry_hash(prev_hash, a)) FROM audit_log a`).Scan(&ok))
			return ok
		}
		_, err = m.Up(ctx)
		require.NoError(t, err)
		require.True(t, verifies(), "entries written before the sealed columns verify after them")
		var recomputed []byte
		require.NoError(t, conn.QueryRow(ctx, `SELECT rekomi_audit_entry_hash(prev_hash, a) FROM audit_log a WHERE seq = 2`).Scan(&recomputed))
		require.Equal(t, before, recomputed, "an entry without sealed columns hashes as before")

		_, err = conn.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id, ip)
			VALUES ($1, 'api_key', 'k', 'affiliate.invited', 'affiliate', 'a3', '198.51.100.7')`, org)
		requireSQLState(t, err, "23514")
		_, err = conn.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id, personal, personal_index)
			VALUES ($1, 'api_key', 'k', 'affiliate.invited', 'affiliate', 'a3', '\x01aa', ARRAY['\x02bb'::bytea, '\x03cc'])`, org)
		require.NoError(t, err)
		require.True(t, verifies(), "a sealed entry verifies")
		var sealed, unsealed []byte
		require.NoError(t, conn.QueryRow(ctx, `SELECT rekomi_audit_entry_hash(prev_hash, a),
			rekomi_audit_entry_hash(prev_hash, (a.org_id, a.seq, a.id, a.occurred_at, a.actor_type, a.actor_id, a.action, a.target_type,
				a.target_id, a.ip, a.user_agent, a.request_id, a.metadata, a.prev_hash, a.hash, '\x01ab', a.personal_index)::audit_log)
			FROM audit_log a WHERE seq = 3`).Scan(&sealed, &unsealed))
		require.NotEqual(t, sealed, unsealed, "the hash covers the sealed bytes")
	})

	// Before 0020 a refund or dispute took back the whole commission; 0020
	// records that as a reduction of the whole sale, so reconciling the
	// sale later leaves those commissions taken back.
	t.Run("SalesTakenBackBeforeProportionalReductionsStaySo", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		_, err = m.Down(ctx, int(latest)-19)
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		org := "7b2d3a1f-9a5e-4b54-8b5a-1d3b9b3c8f22"
		_, err = conn.Exec(ctx, `SELECT set_config('rekomi.org_id', $1, false)`, org)
		require.NoError(t, err)
		for _, stmt := range []string{
			`INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, 'acme', 'Acme', 'pro')`,
			`INSERT INTO campaigns (org_id, id, name, currency, commission_type, commission_bps)
			 VALUES ($1, '00000000-0000-4000-8000-000000000001', 'Launch', 'EUR', 'percentage', 1000)`,
			`INSERT INTO affiliates (org_id, id, email, status) VALUES ($1, '00000000-0000-4000-8000-000000000002', 'p@acme.example', 'active')`,
			`INSERT INTO customers (org_id, id, external_id, affiliate_id) VALUES ($1, '00000000-0000-4000-8000-000000000003', 'cus_1',
			 '00000000-0000-4000-8000-000000000002')`,
			`INSERT INTO conversions (org_id, id, customer_id, kind, external_id, amount, currency, occurred_at)
			 SELECT $1, ('00000000-0000-4000-8000-00000000001' || n)::uuid, '00000000-0000-4000-8000-000000000003', 'sale', 'in_' || n, 4900, 'EUR', now()
			   FROM generate_series(1, 3) n`,
			`INSERT INTO commissions (org_id, id, conversion_id, affiliate_id, campaign_id, amount, currency, approve_after, status, reversed_reason, reversed_at, paid_at)
			 SELECT $1, ('00000000-0000-4000-8000-00000000002' || n)::uuid, ('00000000-0000-4000-8000-00000000001' || n)::uuid,
			        '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 490, 'EUR', now(),
			        CASE n WHEN 1 THEN 'reversed' WHEN 2 THEN 'paid' ELSE 'pending' END,
			        CASE n WHEN 1 THEN 'refunded' END, CASE n WHEN 1 THEN now() END, CASE n WHEN 2 THEN now() END
			   FROM generate_series(1, 3) n`,
			`INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
			 VALUES ($1, '00000000-0000-4000-8000-000000000022', '00000000-0000-4000-8000-000000000002', -490, 'EUR', 'disputed')`,
			`INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id)
			 VALUES ($1, 'provider', 'stripe', 'commission.reversed', 'commission', '00000000-0000-4000-8000-000000000021')`,
		} {
			_, err := conn.Exec(ctx, stmt, org)
			require.NoError(t, err, stmt)
		}
		_, err = m.Up(ctx)
		require.NoError(t, err)
		rows, err := conn.Query(ctx, `SELECT c.external_id, r.kind, r.amount, r.status FROM sale_reductions r
			JOIN conversions c ON c.org_id = r.org_id AND c.id = r.conversion_id ORDER BY c.external_id`)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
			var sale, kind, status string
			var amount int64
			err := row.Scan(&sale, &kind, &amount, &status)
			return fmt.Sprintf("%s %s %d %s", sale, kind, amount, status), err
		})
		require.NoError(t, err)
		require.Equal(t, []string{"in_1 refund 4900 refunded", "in_2 dispute 4900 open"}, got,
			"the sales taken back, whole; the untouched one has none")
		var by []*string
		rows, err = conn.Query(ctx, `SELECT reversed_by FROM commissions ORDER BY id`)
		require.NoError(t, err)
		by, err = pgx.CollectRows(rows, pgx.RowTo[*string])
		require.NoError(t, err)
		require.Len(t, by, 3)
		require.Equal(t, "provider", *by[0], "reversed, as the audit log says, by its provider")
		require.Nil(t, by[1])
		require.Nil(t, by[2])
		var campaign string
		require.NoError(t, conn.QueryRow(ctx, `SELECT campaign_id::text FROM customers`).Scan(&campaign))
		require.Equal(t, "00000000-0000-4000-8000-000000000001", campaign, "the campaign of its earliest commission")
	})

	// A down migration that would drop what the older schema cannot hold
	// refuses, though every tenant table's row-level security is forced
	// on the owner running it, which sees no row through it.
	t.Run("DownRefusesToDropAPromoCodesAttribution", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, url)
		require.NoError(t, err)
		defer conn.Close(ctx)
		org := "5d1e0c2a-7f4b-4c3e-9a8d-2b6f1e0c9d47"
		_, err = conn.Exec(ctx, `SELECT set_config('rekomi.org_id', $1, false)`, org)
		require.NoError(t, err)
		for _, stmt := range []string{
			`INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, 'acme', 'Acme', 'pro')`,
			`INSERT INTO campaigns (org_id, id, name, currency, commission_type, commission_bps)
			 VALUES ($1, '00000000-0000-4000-8000-000000000001', 'Launch', 'EUR', 'percentage', 1000)`,
			`INSERT INTO affiliates (org_id, id, email, status) VALUES ($1, '00000000-0000-4000-8000-000000000002', 'p@acme.example', 'active')`,
			`INSERT INTO promo_codes (org_id, id, code, affiliate_id, campaign_id) VALUES ($1, '00000000-0000-4000-8000-000000000004', 'SPRING',
			 '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001')`,
			`INSERT INTO customers (org_id, id, external_id, affiliate_id, promo_code_id, campaign_id, attributed_at) VALUES ($1,
			 '00000000-0000-4000-8000-000000000003', 'cus_1', '00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000004',
			 '00000000-0000-4000-8000-000000000001', now())`,
		} {
			_, err := conn.Exec(ctx, stmt, org)
			require.NoError(t, err, stmt)
		}
		_, err = m.Down(ctx, int(latest)-21)
		require.ErrorContains(t, err, "customers are attributed by promo codes", "0022's own transaction refuses, changing nothing")
		var attributed int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM customers WHERE promo_code_id IS NOT NULL`).Scan(&attributed))
		require.Equal(t, 1, attributed)
	})

	t.Run("DownPastTheFirstMigrationFails", func(t *testing.T) {
		t.Parallel()
		m := openMigrator(t, ownerDatabase(t, srv))
		_, err := m.Up(ctx)
		require.NoError(t, err)
		st, err := m.Down(ctx, int(latest)+1)
		require.ErrorContains(t, err, fmt.Sprintf("rolling back %d migrations: only", latest+1))
		require.Equal(t, latest, st.Version, "nothing was rolled back")
	})

	t.Run("RefusesADirtySchema", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		dbtest.Exec(t, url, "UPDATE schema_migrations SET dirty = true")

		_, err = m.Up(ctx)
		require.ErrorIs(t, err, migrations.ErrDirty)
		require.ErrorContains(t, err, "dirty at version")
	})

	t.Run("RefusesASchemaNewerThanTheBinary", func(t *testing.T) {
		t.Parallel()
		url := ownerDatabase(t, srv)
		m := openMigrator(t, url)
		_, err := m.Up(ctx)
		require.NoError(t, err)
		dbtest.Exec(t, url, "UPDATE schema_migrations SET version = version + 1")

		_, err = m.Up(ctx)
		require.ErrorIs(t, err, migrations.ErrSchemaNewer)
		st, err := m.Status()
		require.NoError(t, err)
		require.Equal(t, latest+1, st.Version)
	})

	t.Run("EveryTableHasAGrantsEntry", func(t *testing.T) {
		t.Parallel()
		conn := migratedConn(t, srv)
		rows, err := conn.Query(ctx, `SELECT relname FROM pg_class
			WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') ORDER BY 1`)
		require.NoError(t, err)
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		var listed []string
		for name := range migrations.RuntimeGrants() {
			listed = append(listed, name)
		}
		require.ElementsMatch(t, tables, listed, "RuntimeGrants must name every table of the schema, and only those")
	})

	t.Run("PoliciesAreTheMigratedSet", func(t *testing.T) {
		t.Parallel()
		conn := migratedConn(t, srv)
		var owner string
		require.NoError(t, conn.QueryRow(ctx, "SELECT current_user").Scan(&owner))
		report, err := isolation.Verify(ctx, conn, isolation.Options{
			RuntimeRole: owner, PublicLookupTables: migrations.PublicLookupTables(), Policies: migrations.Policies(),
		})
		require.NoError(t, err)
		for _, v := range report.Violations {
			require.NotContains(t, []isolation.Kind{isolation.PolicyMissing, isolation.PolicyAltered, isolation.PolicyUnexpected},
				v.Kind, "migrations.Policies must be what the migrations leave: %s", v.Detail)
		}
		var tables []string
		for _, p := range migrations.Policies() {
			tables = append(tables, p.Table)
		}
		require.Subset(t, tables, report.TenantTables, "every tenant table has its policies in migrations.Policies")
	})

	t.Run("RefusesABadURL", func(t *testing.T) {
		t.Parallel()
		_, err := migrations.Open(ctx, "postgres://nobody:wrong@127.0.0.1:1/none?connect_timeout=2")
		require.Error(t, err)
		require.NotContains(t, err.Error(), "wrong", "the password never appears in an error")
	})
}
