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
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// The values of organizations.status.
const (
	orgActive    = "active"
	orgCancelled = "cancelled"
	orgPurged    = "purged"
)

// Audit actions of an organization's lifecycle.
const (
	actionCreated       = "organization.created"
	actionUpdated       = "organization.updated"
	actionCancelled     = "organization.cancelled"
	actionReactivated   = "organization.reactivated"
	actionPurged        = "organization.purged"
	actionAdminOverride = "admin.override"
)

// orgRow is an organizations row: what the database holds, or what it should.
type orgRow struct {
	Name        string
	DisplayName string
	Plan        rekomiv1.Plan
	Status      string
	CancelledAt *time.Time
	PurgeAt     *time.Time
	// PerPayout and PerDay are the payout limits, in minor units.
	PerPayout, PerDay int64
}

// Payout limits of an Organization whose spec sets none (the CRD's defaults,
// and the columns').
const (
	defaultPerPayout = 1_000_000
	defaultPerDay    = 2_500_000
)

// payoutLimits are org's limits, defaults filled in.
func payoutLimits(org *rekomiv1.Organization) (perPayout, perDay int64) {
	perPayout, perDay = org.Spec.PayoutLimits.PerPayout, org.Spec.PayoutLimits.PerDay
	if perPayout <= 0 {
		perPayout = defaultPerPayout
	}
	if perDay <= 0 {
		perDay = defaultPerDay
	}
	return perPayout, perDay
}

// planAllowed reports whether region accepts organizations on plan.
func planAllowed(region *rekomiv1.Region, plan rekomiv1.Plan) bool {
	return slices.Contains(region.Spec.AllowedPlans, plan)
}

// wantsCancelled reports whether org is to be cancelled: by its spec, by the
// deletion of the CR, or by the purge-now annotation.
func wantsCancelled(org *rekomiv1.Organization) bool {
	return org.Spec.Cancelled || !org.DeletionTimestamp.IsZero() || purgeNowRequested(org)
}

// purgeNowRequested reports whether an admin asked for an immediate purge.
func purgeNowRequested(org *rekomiv1.Organization) bool {
	return org.Annotations[PurgeNowAnnotation] == "true"
}

// desiredRow is the row org should have, given the stored one (nil when
// there is none). A purged row never changes again; a plan the Region does
// not accept is not written, so the row keeps its plan; a cancellation keeps
// the time it started and its purge time.
func desiredRow(org *rekomiv1.Organization, stored *orgRow, allowed bool, grace time.Duration, now time.Time) orgRow {
	if stored != nil && stored.Status == orgPurged {
		return *stored
	}
	want := orgRow{Name: org.Name, DisplayName: org.Spec.DisplayName, Plan: org.Spec.Plan, Status: orgActive}
	want.PerPayout, want.PerDay = payoutLimits(org)
	if stored != nil && !allowed {
		want.Plan = stored.Plan
	}
	if !wantsCancelled(org) {
		return want
	}
	want.Status = orgCancelled
	if stored != nil && stored.Status == orgCancelled {
		want.CancelledAt, want.PurgeAt = stored.CancelledAt, stored.PurgeAt
		return want
	}
	purgeAt := now.Add(grace)
	want.CancelledAt, want.PurgeAt = &now, &purgeAt
	return want
}

// rowActions are the audit actions that writing want over stored records,
// in order; none when nothing differs.
func rowActions(stored *orgRow, want orgRow) []string {
	if stored == nil {
		if want.Status == orgCancelled {
			return []string{actionCreated, actionCancelled}
		}
		return []string{actionCreated}
	}
	var actions []string
	if len(rowChanges(*stored, want)) > 0 {
		actions = append(actions, actionUpdated)
	}
	switch {
	case stored.Status == orgActive && want.Status == orgCancelled:
		actions = append(actions, actionCancelled)
	case stored.Status == orgCancelled && want.Status == orgActive:
		actions = append(actions, actionReactivated)
	}
	return actions
}

// rowChanges describes the changed descriptive fields (not the lifecycle,
// which has actions of its own) for the audit entry of an update.
func rowChanges(stored, want orgRow) map[string]any {
	changes := map[string]any{}
	for field, pair := range map[string][2]string{
		"name":                    {stored.Name, want.Name},
		"display_name":            {stored.DisplayName, want.DisplayName},
		"plan":                    {string(stored.Plan), string(want.Plan)},
		"payout_limit_per_payout": {strconv.FormatInt(stored.PerPayout, 10), strconv.FormatInt(want.PerPayout, 10)},
		"payout_limit_per_day":    {strconv.FormatInt(stored.PerDay, 10), strconv.FormatInt(want.PerDay, 10)},
	} {
		if pair[0] != pair[1] {
			changes[field] = map[string]string{"from": pair[0], "to": pair[1]}
		}
	}
	return changes
}

// purgeDue reports whether row's tenant rows are to be deleted now.
func purgeDue(row orgRow, now time.Time, purgeNow bool) bool {
	if row.Status != orgCancelled {
		return false
	}
	return purgeNow || (row.PurgeAt != nil && !now.Before(*row.PurgeAt))
}

// readyCondition says whether the organization is Ready and why, from its
// row as it now is.
func readyCondition(org *rekomiv1.Organization, region *rekomiv1.Region, row orgRow, allowed bool) (bool, rekomiv1.ConditionReason, string) {
	switch {
	case row.Status == orgPurged:
		return false, rekomiv1.ReasonPurged, purgedMessage(row)
	case !allowed:
		return false, rekomiv1.ReasonPlanNotAllowed, fmt.Sprintf("%s; the organization keeps its data on plan %s",
			planNotAllowedMessage(org, region), row.Plan)
	case row.Status == orgCancelled:
		return true, rekomiv1.ReasonReconciled, fmt.Sprintf("cancelled in region %s: read-only until its tenant rows are purged at %s",
			region.Name, row.PurgeAt.UTC().Format(time.RFC3339))
	}
	return true, rekomiv1.ReasonReconciled, fmt.Sprintf("provisioned in region %s on plan %s", region.Name, row.Plan)
}

func planNotAllowedMessage(org *rekomiv1.Organization, region *rekomiv1.Region) string {
	allowed := make([]string, len(region.Spec.AllowedPlans))
	for i, p := range region.Spec.AllowedPlans {
		allowed[i] = string(p)
	}
	return fmt.Sprintf("plan %s is not allowed in region %s, which accepts %s",
		org.Spec.Plan, region.Name, strings.Join(allowed, ", "))
}

func purgedMessage(row orgRow) string {
	when := "earlier"
	if row.PurgeAt != nil {
		when = "at " + row.PurgeAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("tenant rows purged %s; the audit log is kept", when)
}

// requeueAfter is when a cancelled organization must be looked at again: at
// its purge time. Zero when nothing is scheduled.
func requeueAfter(row orgRow, now time.Time) time.Duration {
	if row.Status != orgCancelled || row.PurgeAt == nil {
		return 0
	}
	return max(row.PurgeAt.Sub(now), time.Second)
}
