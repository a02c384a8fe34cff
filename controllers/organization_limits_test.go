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

	"github.com/stretchr/testify/require"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// TestOrganizationWritesItsPayoutLimits proves that spec.payoutLimits
// reaches the organization's row, where the app enforces it, and that a
// change is audited with its old and new values.
func TestOrganizationWritesItsPayoutLimits(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	got := f.provision(t, org)
	limits := func() (perPayout, perDay int64) {
		t.Helper()
		queryRow(t, conn, "SELECT payout_limit_per_payout, payout_limit_per_day FROM organizations WHERE id = $1",
			[]any{got.Status.ID}, &perPayout, &perDay)
		return perPayout, perDay
	}
	perPayout, perDay := limits()
	require.Equal(t, []int64{1_000_000, 2_500_000}, []int64{perPayout, perDay}, "the defaults")

	f.update(t, org, func(o *v1.Organization) { o.Spec.PayoutLimits = v1.PayoutLimits{PerPayout: 50_000, PerDay: 80_000} })
	f.reconcile(t, org)
	perPayout, perDay = limits()
	require.Equal(t, []int64{50_000, 80_000}, []int64{perPayout, perDay})
	var changes string
	queryRow(t, conn, "SELECT metadata->>'changes' FROM audit_log WHERE org_id = $1 AND action = 'organization.updated'",
		[]any{got.Status.ID}, &changes)
	require.JSONEq(t, `{"payout_limit_per_payout": {"from": "1000000", "to": "50000"},
		"payout_limit_per_day": {"from": "2500000", "to": "80000"}}`, changes)
}
