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
	"slices"

	"github.com/rekomi/rekomi/pg/isolation"
)

// Expressions of the policies, as PostgreSQL deparses them.
const (
	tenantRow  = "(org_id = ( SELECT rekomi_current_org() AS rekomi_current_org))"
	tenantSelf = "(id = ( SELECT rekomi_current_org() AS rekomi_current_org))"
	keyedRow   = "(key = ( SELECT rekomi_route_key() AS rekomi_route_key))"
)

// tenantIsolated are the tables whose one policy, tenant_isolation, scopes
// every command to the current organization.
var tenantIsolated = []string{
	"admin_sessions", "affiliate_invites", "affiliates", "api_keys", "audit_log", "billing_events", "campaigns", "clicks",
	"commission_adjustments", "commissions", "conversions", "customers", "idempotency_keys", "members",
	"org_data_keys", "payout_deductions", "payout_items", "payouts", "promo_codes", "referral_links", "sale_reductions",
	"webhook_endpoints",
}

// Policies is the exact set of row-level security policies the migrations
// leave on the tenant tables. The operator recreates a policy that differs
// from it and drops one that is not in it; a test fails when a migration
// changes a policy without changing this set.
func Policies() []isolation.Policy {
	all := func(table, expr string) isolation.Policy {
		return policy(table, "tenant_isolation", "ALL", expr, expr)
	}
	ps := []isolation.Policy{
		all("organizations", tenantSelf),
		policy("route_keys", "keyed_lookup", "SELECT", keyedRow, ""),
		policy("route_keys", "tenant_select", "SELECT", tenantRow, ""),
		policy("route_keys", "tenant_insert", "INSERT", "", tenantRow),
		policy("route_keys", "tenant_update", "UPDATE", tenantRow, tenantRow),
		policy("route_keys", "tenant_delete", "DELETE", tenantRow, ""),
	}
	for _, table := range slices.Concat(tenantIsolated, rehearsalTables()) {
		ps = append(ps, all(table, tenantRow))
	}
	return ps
}

// policy is a permissive policy for every role.
func policy(table, name, command, using, withCheck string) isolation.Policy {
	return isolation.Policy{Table: table, Name: name, Command: command, Permissive: true,
		Roles: []string{"public"}, Using: using, WithCheck: withCheck}
}
