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
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/events"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// TestRegionWatchesForDrift runs the Region controller in a manager whose
// resync is an hour away and changes the Region database under it: table
// drift must be noticed through the event trigger, role drift and a
// disabled trigger through the watch's interval, and each repaired long
// before any resync could come round.
func TestRegionWatchesForDrift(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	region := f.provision(t)
	database := region.Spec.Database.Name
	runtime := pgx.Identifier{region.Spec.Database.RuntimeRole}.Sanitize()

	startRegionManager(t, f, region, 500*time.Millisecond)

	cases := []struct {
		name, drift, repaired string
	}{
		{"table drift, notified", "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY",
			"SELECT relforcerowsecurity FROM pg_class WHERE relname = 'campaigns'"},
		{"policy drift, notified", "ALTER POLICY tenant_isolation ON commissions USING (true)",
			"SELECT qual NOT LIKE '%true%' FROM pg_policies WHERE tablename = 'commissions'"},
		{"role drift, polled", "ALTER ROLE " + runtime + " BYPASSRLS",
			"SELECT NOT rolbypassrls FROM pg_roles WHERE rolname = '" + region.Spec.Database.RuntimeRole + "'"},
		{"trigger disabled, polled", "ALTER EVENT TRIGGER rekomi_drift DISABLE",
			"SELECT evtenabled = 'A' FROM pg_event_trigger WHERE evtname = 'rekomi_drift'"},
	}
	for _, tc := range cases {
		// Not checked in between: the watch may repair before a check could
		// read the drift.
		superExec(t, database, tc.drift)
		require.Eventually(t, func() bool { return superQueryBool(t, database, tc.repaired) },
			30*time.Second, 20*time.Millisecond, "%s: repaired without a resync", tc.name)
	}
}

// startRegionManager runs the Region controller in a manager that sees
// region alone, with its resync an hour away, until tb ends. It returns
// once the drift watch is connected to the Region database: it compares
// right after it listens, so drift made from then on is noticed either way.
func startRegionManager(tb testing.TB, f *regionFixture, region *v1.Region, driftInterval time.Duration) {
	tb.Helper()
	mgr := newScopedManager(tb, []string{region.Spec.Namespace, f.adminNS}, &v1.Region{}, region.Name)
	r := *f.reconciler
	r.Client, r.Recorder = mgr.GetClient(), events.NewFakeRecorder(1000)
	r.ResyncPeriod, r.DriftInterval = time.Hour, driftInterval
	require.NoError(tb, r.SetupWithManager(mgr))
	runManager(tb, mgr)
	require.Eventually(tb, func() bool {
		return superQueryBool(tb, region.Spec.Database.Name, `SELECT EXISTS (SELECT FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'rekomi-drift-watch')`)
	}, 30*time.Second, 20*time.Millisecond, "the drift watch connects")
}
