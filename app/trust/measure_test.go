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

package trust_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// measure reads a Measurement as the runtime role, as the app does.
func measure(t *testing.T, region *regiondb.DB) trust.Measurement {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, region.RuntimeURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var m trust.Measurement
	opts := isolation.Options{RuntimeRole: region.Runtime, PublicLookupTables: migrations.PublicLookupTables(), Policies: migrations.Policies()}
	require.NoError(t, pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		m, err = trust.Measure(ctx, tx, opts, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
		return err
	}))
	return m
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)

	t.Run("EveryClaimHoldsOnAProvisionedRegion", func(t *testing.T) {
		t.Parallel()
		region := regiondb.New(t, srv)
		org := uuid.New()
		dbtest.Exec(t, region.AdminURL, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, 'tenant-secret-name', 'Tenant Secret', 'pro')`, org)
		m := measure(t, region)

		require.Equal(t, time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), m.MeasuredAt)
		require.Equal(t, trust.RuntimeRole{Holds: true, Name: region.Runtime, MemberOf: []string{}, TableOwners: []string{region.Owner}, Findings: []string{}}, m.RuntimeRole)

		require.True(t, m.TenantTables.Holds, "%v", m.TenantTables.Findings)
		require.Empty(t, m.TenantTables.Findings)
		var names []string
		for _, tbl := range m.TenantTables.Tables {
			names = append(names, tbl.Name)
			require.True(t, tbl.RLSEnabled && tbl.RLSForced, tbl.Name)
			require.NotEmpty(t, tbl.Policies, tbl.Name)
		}
		require.Contains(t, names, "campaigns")
		require.Contains(t, names, "audit_log")
		require.Len(t, names, len(migrations.RuntimeGrants())-1, "every table but schema_migrations is a tenant table")
		for _, tbl := range m.TenantTables.Tables {
			if tbl.Name == "campaigns" {
				require.Equal(t, []trust.Policy{{Name: "tenant_isolation", Command: "ALL",
					Using:     "(org_id = ( SELECT rekomi_current_org() AS rekomi_current_org))",
					WithCheck: "(org_id = ( SELECT rekomi_current_org() AS rekomi_current_org))"}}, tbl.Policies)
			}
		}

		require.Equal(t, trust.AuditLog{Holds: true, Triggers: []string{"audit_log_chain", "audit_log_no_truncate", "audit_log_no_update_delete"},
			Missing: []string{}, Findings: []string{}}, m.AuditLog, "a migration changed an audit trigger or its function: update auditTriggers in measure.go")
		require.True(t, m.Replay.Holds)
		require.Contains(t, m.Replay.Index, "UNIQUE INDEX")
		require.Contains(t, m.Replay.Index, "(org_id, provider, event_id)")
		require.Equal(t, trust.Transport{TLS: false}, m.Transport, "the test server does not speak TLS, and the measurement says so")

		data, err := json.Marshal(m)
		require.NoError(t, err)
		for _, secret := range []string{org.String(), "tenant-secret-name", "Tenant Secret"} {
			require.NotContains(t, string(data), secret, "no tenant data")
		}
	})

	// Each drift turns its claim false, and only that one.
	drifts := map[string]struct{ sql, claim string }{
		"FORCE switched off on a table":            {"ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY", "tenant_tables"},
		"a policy that shows every row":            {"CREATE POLICY everyone ON clicks FOR SELECT USING (true)", "tenant_tables"},
		"an append-only trigger disabled":          {"ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete", "audit_log"},
		"an append-only trigger made replica-only": {"ALTER TABLE audit_log ENABLE REPLICA TRIGGER audit_log_no_update_delete", "audit_log"},
		"an append-only trigger's function emptied": {`CREATE OR REPLACE FUNCTION rekomi_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RETURN OLD; END $$`, "audit_log"},
		"an append-only trigger narrowed to DELETE": {`DROP TRIGGER audit_log_no_update_delete ON audit_log;
			CREATE TRIGGER audit_log_no_update_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION rekomi_audit_log_append_only()`, "audit_log"},
		"a trigger added after the chain's": {`CREATE FUNCTION rewrite() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.action := 'x'; RETURN NEW; END $$;
			CREATE TRIGGER audit_log_zz BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION rewrite()`, "audit_log"},
		"the replay index made partial": {`ALTER TABLE billing_events DROP CONSTRAINT billing_events_org_id_provider_event_id_key;
			CREATE UNIQUE INDEX billing_events_org_id_provider_event_id_key ON billing_events (org_id, provider, event_id) WHERE event_id <> 'x'`, "webhook_replay"},
		"the replay index dropped":                    {"ALTER TABLE billing_events DROP CONSTRAINT billing_events_org_id_provider_event_id_key", "webhook_replay"},
		"the runtime role given BYPASSRLS":            {"ALTER ROLE {runtime} BYPASSRLS", "runtime_role"},
		"the runtime role made a member of the owner": {"GRANT {owner} TO {runtime}", "runtime_role"},
	}
	for name, d := range drifts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			region := regiondb.New(t, srv)
			want := map[string]bool{"runtime_role": true, "tenant_tables": true, "audit_log": true, "webhook_replay": true}
			require.Equal(t, want, holding(measure(t, region)))
			sql := strings.NewReplacer("{runtime}", pgx.Identifier{region.Runtime}.Sanitize(),
				"{owner}", pgx.Identifier{region.Owner}.Sanitize()).Replace(d.sql)
			dbtest.Exec(t, region.AdminURL, sql)
			want[d.claim] = false
			require.Equal(t, want, holding(measure(t, region)))
		})
	}
}

// holding says which claims of m hold, by their JSON names.
func holding(m trust.Measurement) map[string]bool {
	return map[string]bool{"runtime_role": m.RuntimeRole.Holds, "tenant_tables": m.TenantTables.Holds,
		"audit_log": m.AuditLog.Holds, "webhook_replay": m.Replay.Holds}
}
