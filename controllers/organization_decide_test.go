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

package controllers

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

func TestDesiredRowAndActions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	purgeAt := earlier.Add(720 * time.Hour)
	grace := 720 * time.Hour
	later := now.Add(grace)
	org := func(mutate func(*rekomiv1.Organization)) *rekomiv1.Organization {
		o := &rekomiv1.Organization{
			ObjectMeta: metav1.ObjectMeta{Name: "acme"},
			Spec:       rekomiv1.OrganizationSpec{DisplayName: "Acme", Region: "eu", Plan: rekomiv1.PlanPro},
		}
		if mutate != nil {
			mutate(o)
		}
		return o
	}
	active := &orgRow{Name: "acme", DisplayName: "Acme", Plan: rekomiv1.PlanPro, Status: orgActive, PerPayout: defaultPerPayout, PerDay: defaultPerDay}
	cancelled := &orgRow{Name: "acme", DisplayName: "Acme", Plan: rekomiv1.PlanPro, Status: orgCancelled, CancelledAt: &earlier, PurgeAt: &purgeAt,
		PerPayout: defaultPerPayout, PerDay: defaultPerDay}
	purged := &orgRow{Name: "acme", DisplayName: "Old", Plan: rekomiv1.PlanPro, Status: orgPurged, CancelledAt: &earlier, PurgeAt: &earlier}

	cases := map[string]struct {
		org     *rekomiv1.Organization
		stored  *orgRow
		allowed bool
		want    orgRow
		actions []string
	}{
		"a new organization is created active": {
			org: org(nil), allowed: true, want: *active, actions: []string{actionCreated},
		},
		"an unchanged organization writes nothing": {
			org: org(nil), stored: active, allowed: true, want: *active,
		},
		"a new display name is an update": {
			org:    org(func(o *rekomiv1.Organization) { o.Spec.DisplayName = "Acme GmbH" }),
			stored: active, allowed: true,
			want:    orgRow{Name: "acme", DisplayName: "Acme GmbH", Plan: rekomiv1.PlanPro, Status: orgActive, PerPayout: defaultPerPayout, PerDay: defaultPerDay},
			actions: []string{actionUpdated},
		},
		"a plan the Region refuses keeps the stored plan": {
			org:    org(func(o *rekomiv1.Organization) { o.Spec.Plan = rekomiv1.PlanStarter }),
			stored: active, allowed: false, want: *active,
		},
		"cancelling starts the grace period now": {
			org:    org(func(o *rekomiv1.Organization) { o.Spec.Cancelled = true }),
			stored: active, allowed: true,
			want: orgRow{Name: "acme", DisplayName: "Acme", Plan: rekomiv1.PlanPro, Status: orgCancelled, PerPayout: defaultPerPayout, PerDay: defaultPerDay,
				CancelledAt: &now, PurgeAt: &later},
			actions: []string{actionCancelled},
		},
		"a cancelled organization keeps its purge time": {
			org:    org(func(o *rekomiv1.Organization) { o.Spec.Cancelled = true }),
			stored: cancelled, allowed: true, want: *cancelled,
		},
		"deleting the CR cancels": {
			org: org(func(o *rekomiv1.Organization) {
				o.DeletionTimestamp = &metav1.Time{Time: now}
			}),
			stored: cancelled, allowed: true, want: *cancelled,
		},
		"the purge-now annotation cancels": {
			org: org(func(o *rekomiv1.Organization) {
				o.Annotations = map[string]string{PurgeNowAnnotation: "true"}
			}),
			stored: active, allowed: true,
			want: orgRow{Name: "acme", DisplayName: "Acme", Plan: rekomiv1.PlanPro, Status: orgCancelled, PerPayout: defaultPerPayout, PerDay: defaultPerDay,
				CancelledAt: &now, PurgeAt: &later},
			actions: []string{actionCancelled},
		},
		"un-cancelling reactivates": {
			org: org(nil), stored: cancelled, allowed: true, want: *active, actions: []string{actionReactivated},
		},
		"a purged organization never changes": {
			org: org(nil), stored: purged, allowed: true, want: *purged,
		},
		"created cancelled": {
			org: org(func(o *rekomiv1.Organization) { o.Spec.Cancelled = true }), allowed: true,
			want: orgRow{Name: "acme", DisplayName: "Acme", Plan: rekomiv1.PlanPro, Status: orgCancelled, PerPayout: defaultPerPayout, PerDay: defaultPerDay,
				CancelledAt: &now, PurgeAt: &later},
			actions: []string{actionCreated, actionCancelled},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := desiredRow(tc.org, tc.stored, tc.allowed, grace, now)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.actions, rowActions(tc.stored, got))
		})
	}
}

func TestPurgeDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	before, after := now.Add(-time.Second), now.Add(time.Second)
	cases := map[string]struct {
		row      orgRow
		purgeNow bool
		want     bool
	}{
		"active is never purged":             {row: orgRow{Status: orgActive}, purgeNow: true},
		"cancelled before its purge time":    {row: orgRow{Status: orgCancelled, PurgeAt: &after}},
		"cancelled at its purge time":        {row: orgRow{Status: orgCancelled, PurgeAt: &now}, want: true},
		"cancelled past its purge time":      {row: orgRow{Status: orgCancelled, PurgeAt: &before}, want: true},
		"cancelled with purge-now":           {row: orgRow{Status: orgCancelled, PurgeAt: &after}, purgeNow: true, want: true},
		"already purged is not purged again": {row: orgRow{Status: orgPurged, PurgeAt: &before}, purgeNow: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, purgeDue(tc.row, now, tc.purgeNow))
		})
	}
}

func TestDeleteOrder(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		tables []string
		keys   []foreignKey
		want   []string
		err    string
	}{
		"no keys: alphabetical": {
			tables: []string{"b", "a", "c"}, want: []string{"a", "b", "c"},
		},
		"children before parents": {
			tables: []string{"campaigns", "clicks", "referral_links", "affiliates"},
			keys: []foreignKey{
				{"clicks", "referral_links"}, {"referral_links", "affiliates"}, {"referral_links", "campaigns"},
				{"clicks", "organizations"}, {"campaigns", "organizations"},
			},
			want: []string{"clicks", "referral_links", "affiliates", "campaigns"},
		},
		"a table referenced twice waits for both": {
			tables: []string{"a", "b", "c"},
			keys:   []foreignKey{{"b", "a"}, {"c", "a"}, {"c", "a"}, {"c", "b"}},
			want:   []string{"c", "b", "a"},
		},
		"a self-reference does not block": {
			tables: []string{"tree"}, keys: []foreignKey{{"tree", "tree"}}, want: []string{"tree"},
		},
		"references to kept tables do not block": {
			tables: []string{"a"}, keys: []foreignKey{{"audit_log", "a"}}, want: []string{"a"},
		},
		"a cycle is refused": {
			tables: []string{"a", "b", "c"}, keys: []foreignKey{{"a", "b"}, {"b", "a"}},
			err: "foreign keys form a cycle among tables a, b",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := deleteOrder(tc.tables, tc.keys)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestReadyCondition(t *testing.T) {
	t.Parallel()
	purgeAt := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	region := &rekomiv1.Region{ObjectMeta: metav1.ObjectMeta{Name: "eu"},
		Spec: rekomiv1.RegionSpec{AllowedPlans: []rekomiv1.Plan{rekomiv1.PlanPro, rekomiv1.PlanEnterprise}}}
	org := &rekomiv1.Organization{Spec: rekomiv1.OrganizationSpec{Plan: rekomiv1.PlanStarter}}
	cases := map[string]struct {
		row     orgRow
		allowed bool
		ok      bool
		reason  rekomiv1.ConditionReason
		message string
	}{
		"active":    {row: orgRow{Status: orgActive, Plan: rekomiv1.PlanPro}, allowed: true, ok: true, reason: rekomiv1.ReasonReconciled, message: "provisioned in region eu on plan pro"},
		"cancelled": {row: orgRow{Status: orgCancelled, PurgeAt: &purgeAt}, allowed: true, ok: true, reason: rekomiv1.ReasonReconciled, message: "purged at 2026-04-01T00:00:00Z"},
		"downgraded": {row: orgRow{Status: orgActive, Plan: rekomiv1.PlanPro}, reason: rekomiv1.ReasonPlanNotAllowed,
			message: "plan starter is not allowed in region eu, which accepts pro, enterprise; the organization keeps its data on plan pro"},
		"purged, whatever the plan": {row: orgRow{Status: orgPurged, PurgeAt: &purgeAt}, reason: rekomiv1.ReasonPurged, message: "tenant rows purged at 2026-04-01T00:00:00Z"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ok, reason, message := readyCondition(org, region, tc.row, tc.allowed)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.reason, reason)
			require.Contains(t, message, tc.message)
		})
	}
}
