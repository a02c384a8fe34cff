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

// Privilege is a table privilege the runtime role may hold.
type Privilege string

// The DML privileges. The runtime role never gets TRUNCATE, REFERENCES or
// TRIGGER, and owns nothing.
const (
	Select Privilege = "SELECT"
	Insert Privilege = "INSERT"
	Update Privilege = "UPDATE"
	Delete Privilege = "DELETE"
)

// RuntimeGrants is exactly what the runtime role may do to each table of the
// schema; a table that is not listed gets nothing. The operator makes the
// catalog match it after every migration, and a test fails when a migration
// adds a table without an entry here.
func RuntimeGrants() map[string][]Privilege {
	return map[string][]Privilege{
		// Written by the operator only.
		"organizations":     {Select},
		"webhook_endpoints": {Select},
		// Public lookup keys come and go with their links, endpoints and keys.
		"route_keys": {Select, Insert, Delete},

		"members":           {Select, Insert, Update, Delete},
		"api_keys":          {Select, Insert, Update},
		"campaigns":         {Select, Insert, Update},
		"affiliates":        {Select, Insert, Update},
		"affiliate_invites": {Select, Insert, Update, Delete},
		"referral_links":    {Select, Insert, Update},
		"customers":         {Select, Insert, Update},
		"conversions":       {Select, Insert, Update},
		"commissions":       {Select, Insert, Update},
		"payouts":           {Select, Insert, Update},

		// Append-only facts.
		"clicks":         {Select, Insert},
		"payout_items":   {Select, Insert},
		"billing_events": {Select, Insert},
		"audit_log":      {Select, Insert},

		// golang-migrate's bookkeeping: the owner's alone.
		"schema_migrations": {},
	}
}

// PublicLookupTables are the tenant tables that anyone may read before the
// tenant is known; writes to them are still tenant-checked.
func PublicLookupTables() []string {
	return []string{"route_keys"}
}
