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

package controllers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/migrations"
	"github.com/rekomi/rekomi/pg/isolation"
)

// TestRegionRepairsTableDrift changes a tenant table's policies, row-level
// security or privileges as a superuser would, and proves that one pass
// reports the drift, puts the schema's exact state back, says so in a
// Warning event, and records it in every organization's audit log as the
// operator, with the chain intact.
func TestRegionRepairsTableDrift(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		drift  string // {reader} is a role of the test's own
		change string // in the Warning event
	}{
		"policy loosened": {
			drift:  "ALTER POLICY tenant_isolation ON commissions USING (true)",
			change: "policy tenant_isolation on table commissions recreated",
		},
		"policy narrowed to one role": {
			drift:  "ALTER POLICY tenant_isolation ON campaigns TO {reader}",
			change: "policy tenant_isolation on table campaigns recreated",
		},
		"policy added": {
			drift:  "CREATE POLICY deny ON affiliates AS RESTRICTIVE FOR SELECT USING (false)",
			change: "policy deny dropped from table affiliates",
		},
		"policy dropped": {
			drift:  "DROP POLICY keyed_lookup ON route_keys",
			change: "policy keyed_lookup on table route_keys created",
		},
		"row-level security disabled": {
			drift:  "ALTER TABLE clicks DISABLE ROW LEVEL SECURITY",
			change: "row level security enabled on table clicks",
		},
		"table granted to another role": {
			drift:  "GRANT SELECT ON customers TO {reader}; GRANT SELECT (email) ON affiliates TO {reader}",
			change: "every privilege on table customers revoked from",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newOrgFixture(t)
			org := f.provision(t, f.newOrg(t))
			database := f.region.Spec.Database.Name
			reader := dbtest.UniqueName("reader")
			superExec(t, "", "CREATE ROLE "+pgx.Identifier{reader}.Sanitize())
			t.Cleanup(func() {
				superExec(t, database, "DROP OWNED BY "+pgx.Identifier{reader}.Sanitize())
				superExec(t, "", "DROP ROLE "+pgx.Identifier{reader}.Sanitize())
			})
			superExec(t, database, strings.ReplaceAll(tc.drift, "{reader}", pgx.Identifier{reader}.Sanitize()))
			f.rf.drainEvents()

			got, err := f.rf.reconcile(t)
			require.NoError(t, err)
			requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
			evs := strings.Join(f.rf.drainEvents(), "\n")
			require.Contains(t, evs, "Warning IsolationViolated", "the drift is reported")
			require.Contains(t, evs, "Warning IsolationRepaired "+tc.change, "and its repair")

			conn := f.conn(t)
			report, err := isolation.Verify(context.Background(), conn, isolation.Options{RuntimeRole: f.region.Spec.Database.RuntimeRole,
				PublicLookupTables: migrations.PublicLookupTables(), Policies: migrations.Policies()})
			require.NoError(t, err)
			require.Empty(t, report.Violations, "the schema's exact state is back")

			require.Contains(t, auditActions(t, conn, org.Status.ID), "operator isolation.repaired")
			requireAuditChainOK(t, conn, org.Status.ID)
			var changes string
			queryRow(t, conn, `SELECT string_agg(metadata->>'change', '; ') FROM audit_log WHERE org_id = $1 AND action = 'isolation.repaired'`,
				[]any{org.Status.ID}, &changes)
			require.Contains(t, changes, tc.change)

			_, err = f.rf.reconcile(t)
			require.NoError(t, err)
			require.NotContains(t, strings.Join(f.rf.drainEvents(), "\n"), "IsolationRepaired", "a repaired schema needs no second repair")
		})
	}
}

// TestRegionInstallsDriftTrigger proves that the Region database notifies
// every DDL command, as the owner role too, and that the trigger is put
// back when a superuser disables it.
func TestRegionInstallsDriftTrigger(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	got := f.provision(t)
	c := requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
	require.Contains(t, c.Message, "drift is noticed at once (event trigger)")
	database := got.Spec.Database.Name

	ctx := context.Background()
	listener, err := pgx.Connect(ctx, dbtest.WithDatabase(t, testEnv.adminURL, database))
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close(ctx) })
	_, err = listener.Exec(ctx, "LISTEN rekomi_drift")
	require.NoError(t, err)

	superExec(t, database, "SET ROLE "+pgx.Identifier{got.Spec.Database.OwnerRole}.Sanitize()+"; ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
	n, err := listener.WaitForNotification(ctx)
	require.NoError(t, err)
	require.Equal(t, "ALTER TABLE", n.Payload, "the owner's DDL is notified")

	superExec(t, database, "ALTER EVENT TRIGGER rekomi_drift DISABLE")
	require.False(t, superQueryBool(t, database, "SELECT evtenabled = 'A' FROM pg_event_trigger WHERE evtname = 'rekomi_drift'"))
	_, err = f.reconcile(t)
	require.NoError(t, err)
	require.True(t, superQueryBool(t, database, "SELECT evtenabled = 'A' FROM pg_event_trigger WHERE evtname = 'rekomi_drift'"),
		"a disabled trigger is enabled again")
	require.True(t, superQueryBool(t, database, "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'campaigns'"))
}

// TestRegionWithoutSuperuser runs a Region whose admin role may create
// roles and databases but is no superuser: table drift is still repaired
// (the admin acts as the owner), while a runtime role given BYPASSRLS,
// which only a superuser can take away, keeps the Region not Ready with
// the statement a human must run.
func TestRegionWithoutSuperuser(t *testing.T) {
	t.Parallel()
	admin, password := dbtest.UniqueName("admin"), dbtest.UniqueName("pw")
	superExec(t, "", "CREATE ROLE "+pgx.Identifier{admin}.Sanitize()+" LOGIN CREATEROLE CREATEDB PASSWORD '"+password+"'")
	t.Cleanup(func() { superExec(t, "", "DROP ROLE IF EXISTS "+pgx.Identifier{admin}.Sanitize()) })
	f := newRegionFixture(t, dbtest.WithUser(t, testEnv.adminURL, admin, password))
	got := f.provision(t)
	c := requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
	require.Contains(t, c.Message, "the admin role is not a superuser, so no event trigger")
	database, runtime := got.Spec.Database.Name, pgx.Identifier{got.Spec.Database.RuntimeRole}.Sanitize()

	superExec(t, database, "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
	f.drainEvents()
	got, err := f.reconcile(t)
	require.NoError(t, err)
	requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
	require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning IsolationRepaired row level security forced on table campaigns")

	superExec(t, "", "ALTER ROLE "+runtime+" BYPASSRLS")
	got, err = f.reconcile(t)
	require.Error(t, err)
	c = requireCondition(t, got, v1.ConditionRolesReady, metav1.ConditionFalse, v1.ReasonProgressing)
	require.Contains(t, c.Message, "run ALTER ROLE "+got.Spec.Database.RuntimeRole+" NOSUPERUSER NOREPLICATION NOBYPASSRLS as a superuser")
	c = requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionFalse, v1.ReasonIsolationViolated)
	require.Contains(t, c.Message, "BYPASSRLS")
	requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)

	superExec(t, "", "ALTER ROLE "+runtime+" NOBYPASSRLS")
	got, err = f.reconcile(t)
	require.NoError(t, err)
	requireCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
}

// TestRegionOlderThanItsSchema plays an operator of the previous release
// leading a Region that a newer release migrated (a rollback, or an old
// replica holding the lease for a moment): it reports the schema newer
// than itself and leaves the database alone, where the same table at its
// own version is drift it reports and repairs.
func TestRegionOlderThanItsSchema(t *testing.T) {
	t.Parallel()
	for name, newer := range map[string]bool{"AtANewerVersion": true, "AtItsOwnVersion": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newRegionFixture(t, testEnv.adminURL)
			f.provision(t)
			f.drainEvents()
			database := f.region.Spec.Database.Name
			superExec(t, database, `CREATE TABLE notes (
					org_id uuid NOT NULL REFERENCES organizations (id),
					id     uuid NOT NULL,
					PRIMARY KEY (org_id, id));
				ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
				CREATE POLICY tenant_isolation ON notes
					USING (org_id = (SELECT rekomi_current_org()))
					WITH CHECK (org_id = (SELECT rekomi_current_org()));
				ALTER TABLE notes OWNER TO `+pgx.Identifier{f.region.Spec.Database.OwnerRole}.Sanitize())
			if newer {
				superExec(t, database, "UPDATE schema_migrations SET version = version + 1")
			}

			got, err := f.reconcile(t)
			events := strings.Join(f.drainEvents(), "\n")
			policyKept := superQueryBool(t, database, "SELECT count(*) = 1 FROM pg_policies WHERE tablename = $1", "notes")
			if !newer {
				require.NoError(t, err)
				require.Contains(t, events, `Warning IsolationViolated`)
				require.Contains(t, events, `policy "tenant_isolation" on table "notes" is not one the schema defines`)
				require.False(t, policyKept, "a policy the schema does not define is dropped")
				return
			}
			require.ErrorIs(t, err, migrations.ErrSchemaNewer)
			c := requireCondition(t, got, v1.ConditionSchemaReady, metav1.ConditionFalse, v1.ReasonMigrationFailed)
			require.Contains(t, c.Message, "schema is newer than this binary")
			require.NotContains(t, events, "IsolationViolated", "the newer schema's table is not drift")
			require.True(t, policyKept, "nothing of the newer schema is repaired away")
		})
	}
}
