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

package migrations

import (
	"maps"

	"github.com/rekomi/rekomi/pg/pgroles"
)

// RuntimeGrants is exactly what the runtime role may do to each table of the
// schema; a table that is not listed gets nothing. The operator makes the
// catalog match it after every migration, and a test fails when a migration
// adds a table without an entry here.
func RuntimeGrants() map[string][]pgroles.Privilege {
	grants := map[string][]pgroles.Privilege{
		// Written by the operator only.
		"organizations":     {pgroles.Select},
		"webhook_endpoints": {pgroles.Select},
		// Public lookup keys are written with their links and keys; only the
		// operator removes one.
		"route_keys": {pgroles.Select, pgroles.Insert},
		// A key is only ever revoked: its hash, prefix and scopes never change.
		"api_keys": {pgroles.Select, pgroles.Insert, pgroles.Column(pgroles.Update, "revoked_at")},
		// Stored answers are written once, with their effect, and expire.
		"idempotency_keys": {pgroles.Select, pgroles.Insert, pgroles.Delete},
		// Admin sessions begin, end at sign-out and expire.
		"admin_sessions": {pgroles.Select, pgroles.Insert, pgroles.Delete},

		"members":           {pgroles.Select, pgroles.Insert, pgroles.Update, pgroles.Delete},
		"campaigns":         {pgroles.Select, pgroles.Insert, pgroles.Update},
		"affiliates":        {pgroles.Select, pgroles.Insert, pgroles.Update},
		"affiliate_invites": {pgroles.Select, pgroles.Insert, pgroles.Update, pgroles.Delete},
		"referral_links":    {pgroles.Select, pgroles.Insert, pgroles.Update},
		"customers":         {pgroles.Select, pgroles.Insert, pgroles.Update},
		"conversions":       {pgroles.Select, pgroles.Insert, pgroles.Update},
		"commissions":       {pgroles.Select, pgroles.Insert, pgroles.Update},
		// A refund's amount grows (Stripe reports it so far) and a dispute
		// is won or lost; neither is ever removed.
		"sale_reductions": {pgroles.Select, pgroles.Insert, pgroles.Update},
		"payouts":         {pgroles.Select, pgroles.Insert, pgroles.Update},

		// A promo code's code, organization and creation never change: an
		// update moves it to another affiliate or campaign, or disables it.
		"promo_codes": {pgroles.Select, pgroles.Insert, pgroles.Column(pgroles.Update, "affiliate_id"),
			pgroles.Column(pgroles.Update, "campaign_id"), pgroles.Column(pgroles.Update, "disabled_at"),
			pgroles.Column(pgroles.Update, "updated_at")},

		// Append-only facts (an adjustment, once recorded, never changes).
		"clicks":                 {pgroles.Select, pgroles.Insert},
		"payout_items":           {pgroles.Select, pgroles.Insert},
		"billing_events":         {pgroles.Select, pgroles.Insert},
		"audit_log":              {pgroles.Select, pgroles.Insert},
		"commission_adjustments": {pgroles.Select, pgroles.Insert},
		"payout_deductions":      {pgroles.Select, pgroles.Insert},

		// An organization's data key is created once and never replaced;
		// only the operator's purge deletes it.
		"org_data_keys": {pgroles.Select, pgroles.Insert},

		// golang-migrate's bookkeeping, written by the owner; the app reads
		// the version to refuse a schema older than itself and to tell a
		// newer schema's tables from drift.
		"schema_migrations": {pgroles.Select},
	}
	maps.Copy(grants, rehearsalGrants())
	return grants
}

// PublicLookupTables are the tenant tables in which a lookup made before
// the tenant is known may read the row whose key it names (and no other);
// writes to them are still tenant-checked.
func PublicLookupTables() []string {
	return []string{"route_keys"}
}
