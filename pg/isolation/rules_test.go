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

package isolation

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// Expressions as pg_get_expr deparses the policies of the migrations.
const (
	orgScoped = "(org_id = ( SELECT rekomi_current_org() AS rekomi_current_org))"
	idScoped  = "(id = ( SELECT rekomi_current_org() AS rekomi_current_org))"
	keyScoped = "(key = ( SELECT rekomi_route_key() AS rekomi_route_key))"
)

func tenantPolicy(name string) policy {
	return policy{name: name, command: "ALL", permissive: true, using: orgScoped, withCheck: orgScoped}
}

// goodCatalog is a catalog that breaks no rule.
func goodCatalog() catalog {
	return catalog{
		tables: []table{
			{
				name: "campaigns", rlsEnabled: true, rlsForced: true, owner: "rekomi",
				policies:   []policy{tenantPolicy("tenant_isolation")},
				indexLeads: []string{"id", "org_id"},
			},
			{
				name: "organizations", rlsEnabled: true, rlsForced: true, owner: "rekomi",
				policies:   []policy{{name: "tenant_isolation", command: "ALL", permissive: true, using: idScoped, withCheck: idScoped}},
				indexLeads: []string{"id"},
			},
			{
				name: "route_keys", rlsEnabled: true, rlsForced: true, owner: "rekomi",
				policies: []policy{
					{name: "keyed_lookup", command: "SELECT", permissive: true, using: keyScoped},
					{name: "tenant_delete", command: "DELETE", permissive: true, using: orgScoped},
					{name: "tenant_insert", command: "INSERT", permissive: true, withCheck: orgScoped},
					{name: "tenant_update", command: "UPDATE", permissive: true, using: orgScoped, withCheck: orgScoped},
					{name: "tenant_select", command: "SELECT", permissive: true, using: orgScoped},
				},
				indexLeads: []string{"kind", "org_id"},
			},
		},
		role:  &role{name: "rekomi_app"},
		views: []view{{name: "campaign_totals", securityInvoker: true}},
	}
}

func goodOptions() Options {
	return Options{Schema: "public", RuntimeRole: "rekomi_app", PublicLookupTables: []string{"route_keys"}}
}

// findings renders violations as "table/Kind" for compact expectations.
func findings(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s/%s", v.Table, v.Kind))
	}
	return out
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate func(c *catalog)
		want   []string
	}{
		"a correct catalog breaks no rule": {
			mutate: func(*catalog) {},
		},
		"a table without row level security is reported": {
			mutate: func(c *catalog) { c.tables[0].rlsEnabled = false },
			want:   []string{"campaigns/RLSDisabled"},
		},
		"a table whose row level security is not forced is reported": {
			mutate: func(c *catalog) { c.tables[0].rlsForced = false },
			want:   []string{"campaigns/RLSNotForced"},
		},
		"a table without policies is reported": {
			mutate: func(c *catalog) { c.tables[0].policies = nil },
			want:   []string{"campaigns/NoPolicy"},
		},
		"a table with only restrictive policies is reported as having none": {
			mutate: func(c *catalog) { c.tables[0].policies[0].permissive = false },
			want:   []string{"campaigns/NoPolicy"},
		},
		"a loose restrictive policy next to a tenant policy is accepted": {
			mutate: func(c *catalog) {
				c.tables[0].policies = append(c.tables[0].policies,
					policy{name: "live", command: "ALL", using: "(deleted_at IS NULL)"})
			},
		},
		"an ALL policy with USING only is reported": {
			mutate: func(c *catalog) { c.tables[0].policies[0].withCheck = "" },
			want:   []string{"campaigns/PolicyWithoutCheck"},
		},
		"an UPDATE policy with USING only is reported": {
			mutate: func(c *catalog) { c.tables[2].policies[3].withCheck = "" },
			want:   []string{"route_keys/PolicyWithoutCheck"},
		},
		"a permissive policy using true is reported": {
			mutate: func(c *catalog) {
				c.tables[0].policies = append(c.tables[0].policies,
					policy{name: "open", command: "ALL", permissive: true, using: "true", withCheck: "true"})
			},
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"a tenant policy widened with OR is reported": {
			mutate: func(c *catalog) {
				c.tables[0].policies[0].using = "((org_id = ( SELECT rekomi_current_org() AS rekomi_current_org)) OR is_public)"
			},
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"a policy comparing another column with the tenant is reported": {
			mutate: func(c *catalog) { c.tables[0].policies[0].withCheck = idScoped },
			want:   []string{"campaigns/PolicyNotTenantScoped"},
		},
		"organizations scoped by org_id instead of id is reported": {
			mutate: func(c *catalog) { c.tables[1].policies[0].using = orgScoped },
			want:   []string{"organizations/PolicyNotTenantScoped"},
		},
		"a read-all SELECT policy on a table that is not a public lookup table is reported": {
			mutate: func(c *catalog) {
				c.tables[0].policies = append(c.tables[0].policies,
					policy{name: "read_all", command: "SELECT", permissive: true, using: "true"})
			},
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"a write policy of a public lookup table that is not tenant-scoped is reported": {
			mutate: func(c *catalog) { c.tables[2].policies[2].withCheck = "true" },
			want:   []string{"route_keys/PolicyNotTenantScoped"},
		},
		"a read-all SELECT policy on a public lookup table is reported": {
			mutate: func(c *catalog) { c.tables[2].policies[0].using = "true" },
			want:   []string{"route_keys/PolicyNotTenantScoped"},
		},
		"a keyed lookup widened with OR is reported": {
			mutate: func(c *catalog) {
				c.tables[2].policies[0].using = "((key = ( SELECT rekomi_route_key() AS rekomi_route_key)) OR (kind = 'link_code'::text))"
			},
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"a lookup keyed on another column is reported": {
			mutate: func(c *catalog) {
				c.tables[2].policies[0].using = "(kind = ( SELECT rekomi_route_key() AS rekomi_route_key))"
			},
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"a keyed lookup on a table that is not a public lookup table is reported": {
			mutate: func(c *catalog) {
				c.tables[0].policies = append(c.tables[0].policies,
					policy{name: "keyed_lookup", command: "SELECT", permissive: true, using: keyScoped})
			},
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"a keyed ALL policy on a public lookup table is reported": {
			mutate: func(c *catalog) {
				c.tables[2].policies[0] = policy{name: "keyed_lookup", command: "ALL", permissive: true, using: keyScoped, withCheck: keyScoped}
			},
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"a read-all ALL policy on a public lookup table is reported": {
			mutate: func(c *catalog) {
				c.tables[2].policies[0] = policy{name: "public_lookup", command: "ALL", permissive: true, using: "true", withCheck: orgScoped}
			},
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"a table owned by the runtime role is reported": {
			mutate: func(c *catalog) { c.tables[0].owner = "rekomi_app" },
			want:   []string{"campaigns/OwnedByRuntimeRole"},
		},
		"a table without an index led by org_id is reported": {
			mutate: func(c *catalog) { c.tables[0].indexLeads = []string{"id"} },
			want:   []string{"campaigns/MissingTenantIndex"},
		},
		"a schema without organizations is reported": {
			mutate: func(c *catalog) { c.tables = nil },
			want:   []string{"organizations/OrganizationsMissing"},
		},
		"a missing runtime role is reported alone": {
			mutate: func(c *catalog) { c.role = nil },
			want:   []string{"/RuntimeRoleMissing"},
		},
		"every dangerous attribute of the runtime role is reported": {
			mutate: func(c *catalog) {
				c.role = &role{name: "rekomi_app", superuser: true, bypassRLS: true, createRole: true, createDB: true}
			},
			want: []string{"/RuntimeRoleBypassRLS", "/RuntimeRoleCreateDB", "/RuntimeRoleCreateRole", "/RuntimeRoleSuperuser"},
		},
		"membership in the owner of tenant tables is reported": {
			mutate: func(c *catalog) { c.memberOf = []role{{name: "rekomi"}} },
			want:   []string{"/RuntimeRoleMemberOfOwner"},
		},
		"membership in a role that bypasses row level security is reported": {
			mutate: func(c *catalog) { c.memberOf = []role{{name: "reader"}, {name: "auditor", bypassRLS: true}} },
			want:   []string{"/RuntimeRoleMemberOfPrivileged"},
		},
		"membership in a plain role is accepted": {
			mutate: func(c *catalog) { c.memberOf = []role{{name: "reader"}} },
		},
		"a SECURITY DEFINER function is reported": {
			mutate: func(c *catalog) { c.definers = []string{"leak(uuid)"} },
			want:   []string{"/SecurityDefinerFunction"},
		},
		"a view without security_invoker is reported": {
			mutate: func(c *catalog) { c.views = append(c.views, view{name: "all_campaigns"}) },
			want:   []string{"all_campaigns/ViewWithoutSecurityInvoker"},
		},
		"a materialized view is reported": {
			mutate: func(c *catalog) { c.views = append(c.views, view{name: "totals", materialized: true}) },
			want:   []string{"totals/ViewWithoutSecurityInvoker"},
		},
		"violations are sorted by table then kind": {
			mutate: func(c *catalog) {
				c.role.bypassRLS = true
				c.tables[2].rlsForced = false
				c.tables[0].rlsForced = false
				c.tables[0].rlsEnabled = false
			},
			want: []string{"/RuntimeRoleBypassRLS", "campaigns/RLSDisabled", "campaigns/RLSNotForced", "route_keys/RLSNotForced"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cat := goodCatalog()
			tt.mutate(&cat)
			report := evaluate(cat, goodOptions())
			require.Equal(t, tt.want, findings(report.Violations))
			require.Equal(t, len(tt.want) == 0, report.OK())
		})
	}
}

func TestEvaluateListsTenantTablesSorted(t *testing.T) {
	t.Parallel()
	cat := goodCatalog()
	cat.tables[0], cat.tables[2] = cat.tables[2], cat.tables[0]
	report := evaluate(cat, goodOptions())
	require.Equal(t, []string{"campaigns", "organizations", "route_keys"}, report.TenantTables)
}

func TestEvaluateDetails(t *testing.T) {
	t.Parallel()
	cat := goodCatalog()
	cat.tables[0].policies = append(cat.tables[0].policies,
		policy{name: "open", command: "ALL", permissive: true, using: "true", withCheck: orgScoped})
	cat.memberOf = []role{{name: "rekomi"}}
	report := evaluate(cat, goodOptions())
	require.Equal(t, []Violation{
		{
			Kind: RuntimeRoleMemberOfOwner,
			Detail: `runtime role "rekomi_app" is a member of "rekomi", which owns tenant tables "campaigns", "organizations", "route_keys"; ` +
				`it could SET ROLE and switch row level security off`,
		},
		{
			Table:  "campaigns",
			Kind:   PolicyNotTenantScoped,
			Detail: `policy "open" on table "campaigns" does not require org_id = rekomi_current_org(): USING true`,
		},
	}, report.Violations)
}

func TestTenantScoped(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		expr string
		key  string
		want bool
	}{
		"the migrations' sub-select form":          {expr: orgScoped, key: "org_id", want: true},
		"a direct call":                            {expr: "(org_id = rekomi_current_org())", key: "org_id", want: true},
		"the call on the left":                     {expr: "(rekomi_current_org() = org_id)", key: "org_id", want: true},
		"the sub-select on the left":               {expr: "(( SELECT rekomi_current_org() AS rekomi_current_org) = org_id)", key: "org_id", want: true},
		"a call qualified with the checked schema": {expr: "(org_id = public.rekomi_current_org())", key: "org_id", want: true},
		"a quoted key":                             {expr: `("org_id" = rekomi_current_org())`, key: "org_id", want: true},
		"the comparison ANDed with a filter":       {expr: "((org_id = ( SELECT rekomi_current_org() AS rekomi_current_org)) AND (deleted_at IS NULL))", key: "org_id", want: true},
		"the comparison as second AND term":        {expr: "((deleted_at IS NULL) AND (org_id = rekomi_current_org()))", key: "org_id", want: true},
		"an OR nested inside an AND term":          {expr: "((org_id = rekomi_current_org()) AND ((a = 1) OR (b = 2)))", key: "org_id", want: true},
		"a quoted AND does not split":              {expr: "((note = 'x AND y') AND (org_id = rekomi_current_org()))", key: "org_id", want: true},
		"the organizations key":                    {expr: idScoped, key: "id", want: true},
		"true":                                     {expr: "true", key: "org_id", want: false},
		"an empty expression":                      {expr: "", key: "org_id", want: false},
		"the comparison ORed with anything":        {expr: "((org_id = rekomi_current_org()) OR true)", key: "org_id", want: false},
		"an OR above an AND":                       {expr: "(((org_id = rekomi_current_org()) AND a) OR b)", key: "org_id", want: false},
		"an OR without parentheses":                {expr: "org_id = rekomi_current_org() OR org_id IS NULL", key: "org_id", want: false},
		"another column":                           {expr: idScoped, key: "org_id", want: false},
		"another operator":                         {expr: "(org_id <> rekomi_current_org())", key: "org_id", want: false},
		"a negation":                               {expr: "(NOT (org_id = rekomi_current_org()))", key: "org_id", want: false},
		"a function of another schema":             {expr: "(org_id = other.rekomi_current_org())", key: "org_id", want: false},
		"a sub-select with more than the call":     {expr: "(org_id = ( SELECT rekomi_current_org() AS r FROM t WHERE false))", key: "org_id", want: false},
		"the call inside a string":                 {expr: "(name = 'org_id = rekomi_current_org()'::text)", key: "org_id", want: false},
		"the setting read directly":                {expr: "(org_id = (current_setting('rekomi.org_id'::text))::uuid)", key: "org_id", want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tenantScoped(tt.expr, tt.key, "public"))
		})
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	violations := func(n int) []Violation {
		var vs []Violation
		for i := range n {
			vs = append(vs, Violation{Kind: RLSDisabled, Detail: fmt.Sprintf("d%d", i+1)})
		}
		return vs
	}
	tests := map[string]struct {
		report Report
		want   string
	}{
		"no violation": {
			report: Report{TenantTables: []string{"a", "b"}},
			want:   "2 tenant tables, 0 violations",
		},
		"one table and one violation": {
			report: Report{TenantTables: []string{"a"}, Violations: violations(1)},
			want:   "1 tenant table, 1 violation: d1",
		},
		"three violations are all spelled out": {
			report: Report{Violations: violations(3)},
			want:   "0 tenant tables, 3 violations: d1; d2; d3",
		},
		"more than three violations are counted": {
			report: Report{TenantTables: []string{"a", "b"}, Violations: violations(5)},
			want:   "2 tenant tables, 5 violations: d1; d2; d3; and 2 more",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.report.Summary())
		})
	}
}
