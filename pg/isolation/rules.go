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
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// catalog holds the facts Verify reads; the rules below look at nothing else.
type catalog struct {
	tables   []table
	role     *role  // nil when the runtime role does not exist
	memberOf []role // roles the runtime role belongs to, directly or not
	definers []string
	views    []view
}

type table struct {
	name       string
	rlsEnabled bool
	rlsForced  bool
	owner      string
	policies   []policy
	indexLeads []string // the first column of every valid index
	grants     []grant  // privileges on the table and its columns
}

type policy struct {
	name       string
	command    string // ALL, SELECT, INSERT, UPDATE or DELETE
	permissive bool
	roles      []string
	using      string // deparsed; empty when absent
	withCheck  string // deparsed; empty when absent
}

type grant struct {
	grantee   string // PUBLIC for the pseudo-role
	privilege string
}

type role struct {
	name       string
	superuser  bool
	bypassRLS  bool
	createRole bool
	createDB   bool
}

type view struct {
	name            string
	materialized    bool
	securityInvoker bool
}

// evaluate applies every rule to cat.
func evaluate(cat catalog, opts Options) Report {
	var r Report
	for _, t := range cat.tables {
		r.TenantTables = append(r.TenantTables, t.name)
		r.Tables = append(r.Tables, t.public())
		r.Violations = append(r.Violations, tableViolations(t, opts)...)
		r.Violations = append(r.Violations, grantViolations(t, opts.RuntimeRole)...)
	}
	if opts.Policies != nil {
		tables := cat.tables
		if opts.SchemaNewer {
			tables, r.NewerTables = splitNewer(cat.tables, opts.Policies)
		}
		r.Violations = append(r.Violations, policySetViolations(tables, opts.Policies)...)
	}
	slices.Sort(r.TenantTables)
	slices.SortFunc(r.Tables, func(a, b Table) int { return cmp.Compare(a.Name, b.Name) })
	if !slices.Contains(r.TenantTables, organizationsTable) {
		r.Violations = append(r.Violations, Violation{Table: organizationsTable, Kind: OrganizationsMissing,
			Detail: fmt.Sprintf("schema %q has no %s table, so it holds no rekomi tenant data to verify", opts.Schema, organizationsTable)})
	}
	r.Violations = append(r.Violations, roleViolations(cat, opts.RuntimeRole)...)
	r.Violations = append(r.Violations, definerViolations(cat.definers, opts.Schema)...)
	r.Violations = append(r.Violations, viewViolations(cat.views, opts.Schema)...)
	slices.SortFunc(r.Violations, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Detail, b.Detail))
	})
	return r
}

// tenantKey is the column a table's rows are scoped by.
func tenantKey(tableName string) string {
	if tableName == organizationsTable {
		return organizationsKey
	}
	return tenantColumn
}

// tableViolations checks one tenant table.
func tableViolations(t table, opts Options) []Violation {
	var vs []Violation
	add := func(kind Kind, format string, args ...any) {
		vs = append(vs, Violation{Table: t.name, Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	key := tenantKey(t.name)

	// Without RLS every role granted the table reads every row.
	if !t.rlsEnabled {
		add(RLSDisabled, "table %q does not have row level security enabled", t.name)
	}
	// Unforced RLS does not apply to the owner.
	if !t.rlsForced {
		add(RLSNotForced, "table %q does not force row level security, so its owner bypasses the policies", t.name)
	}
	// The owner can switch RLS off and drop policies.
	if t.owner == opts.RuntimeRole {
		add(OwnedByRuntimeRole, "table %q is owned by the runtime role %q, which could switch row level security off", t.name, t.owner)
	}
	// Tenant queries filter on the key first.
	if !slices.Contains(t.indexLeads, key) {
		add(MissingTenantIndex, "table %q has no index whose first column is %s", t.name, key)
	}

	// Only permissive policies grant rows; restrictive ones only narrow what
	// the permissive ones grant, so they cannot widen access to another
	// tenant and are not checked further.
	permissive := slices.DeleteFunc(slices.Clone(t.policies), func(p policy) bool { return !p.permissive })
	if len(permissive) == 0 {
		if len(t.policies) == 0 {
			add(NoPolicy, "table %q has no row level security policy", t.name)
		} else {
			add(NoPolicy, "table %q has only restrictive policies; it needs a permissive tenant policy", t.name)
		}
	}
	publicLookup := slices.Contains(opts.PublicLookupTables, t.name)
	for _, p := range permissive {
		// Written rows must be checked explicitly, even where PostgreSQL
		// would fall back to USING.
		if writes(p.command) && p.withCheck == "" {
			add(PolicyWithoutCheck, "policy %q on table %q (FOR %s) has no WITH CHECK expression", p.name, t.name, p.command)
		}
		// A public lookup table may show a row to a lookup that names its
		// key, and to nobody else.
		if publicLookup && p.command == "SELECT" && keyedLookup(p.using, opts.Schema) {
			continue
		}
		var loose []string
		if p.using != "" && !tenantScoped(p.using, key, opts.Schema) {
			loose = append(loose, "USING "+shorten(p.using))
		}
		if p.withCheck != "" && !tenantScoped(p.withCheck, key, opts.Schema) {
			loose = append(loose, "WITH CHECK "+shorten(p.withCheck))
		}
		if len(loose) == 0 {
			continue
		}
		if publicLookup && p.command == "SELECT" {
			add(PolicyNotTenantScoped, "policy %q on table %q requires neither %s = %s() nor %s = %s(): %s",
				p.name, t.name, key, tenantFunction, lookupColumn, lookupFunction, strings.Join(loose, ", "))
			continue
		}
		add(PolicyNotTenantScoped, "policy %q on table %q does not require %s = %s(): %s",
			p.name, t.name, key, tenantFunction, strings.Join(loose, ", "))
	}
	return vs
}

// grantViolations checks who holds privileges on one tenant table: its
// owner, the runtime role without TRUNCATE, and nobody else.
func grantViolations(t table, runtimeRole string) []Violation {
	others := map[string][]string{}
	var vs []Violation
	for _, g := range t.grants {
		switch {
		case g.grantee == t.owner:
		case g.grantee == runtimeRole:
			if g.privilege == "TRUNCATE" {
				vs = append(vs, Violation{Table: t.name, Kind: RuntimeRoleTruncate,
					Detail: fmt.Sprintf("runtime role %q may TRUNCATE table %q, which row level security does not restrict", runtimeRole, t.name)})
			}
		default:
			others[g.grantee] = append(others[g.grantee], g.privilege)
		}
	}
	for _, grantee := range slices.Sorted(maps.Keys(others)) {
		vs = append(vs, Violation{Table: t.name, Kind: GrantedToOtherRole, Grantee: grantee,
			Detail: fmt.Sprintf("table %q grants %s to %s, which is neither its owner nor the runtime role",
				t.name, strings.Join(slices.Compact(slices.Sorted(slices.Values(others[grantee]))), ", "), grantee)})
	}
	return vs
}

// splitNewer separates the tables that some policy of want names from
// those it does not, which a newer schema added.
func splitNewer(tables []table, want []Policy) (known []table, newer []string) {
	named := map[string]bool{}
	for _, p := range want {
		named[p.Table] = true
	}
	for _, t := range tables {
		if named[t.name] {
			known = append(known, t)
		} else {
			newer = append(newer, t.name)
		}
	}
	slices.Sort(newer)
	return known, newer
}

// policySetViolations compares the tenant tables' policies with want.
func policySetViolations(tables []table, want []Policy) []Violation {
	expected := map[[2]string]Policy{}
	for _, p := range want {
		expected[[2]string{p.Table, p.Name}] = p
	}
	var vs []Violation
	present := map[string]bool{}
	for _, t := range tables {
		present[t.name] = true
		for _, p := range t.policies {
			got := p.public(t.name)
			w, ok := expected[[2]string{t.name, p.name}]
			switch {
			case !ok:
				vs = append(vs, Violation{Table: t.name, Policy: p.name, Kind: PolicyUnexpected,
					Detail: fmt.Sprintf("policy %q on table %q is not one the schema defines: %s", p.name, t.name, describePolicy(got))})
			case !samePolicy(got, w):
				vs = append(vs, Violation{Table: t.name, Policy: p.name, Kind: PolicyAltered,
					Detail: fmt.Sprintf("policy %q on table %q differs from the schema's: %s", p.name, t.name, describePolicy(got))})
			}
			delete(expected, [2]string{t.name, p.name})
		}
	}
	for _, w := range expected {
		if present[w.Table] {
			vs = append(vs, Violation{Table: w.Table, Policy: w.Name, Kind: PolicyMissing,
				Detail: fmt.Sprintf("policy %q on table %q is missing", w.Name, w.Table)})
		}
	}
	return vs
}

// public is t as the exported Table.
func (t table) public() Table {
	out := Table{Name: t.name, RLSEnabled: t.rlsEnabled, RLSForced: t.rlsForced, Owner: t.owner}
	for _, p := range t.policies {
		out.Policies = append(out.Policies, p.public(t.name))
	}
	return out
}

// public is p as the exported Policy of table.
func (p policy) public(table string) Policy {
	return Policy{Table: table, Name: p.name, Command: p.command, Permissive: p.permissive,
		Roles: p.roles, Using: p.using, WithCheck: p.withCheck}
}

// samePolicy compares two policies, expressions up to white space.
func samePolicy(a, b Policy) bool {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	return a.Table == b.Table && a.Name == b.Name && a.Command == b.Command && a.Permissive == b.Permissive &&
		slices.Equal(slices.Sorted(slices.Values(a.Roles)), slices.Sorted(slices.Values(b.Roles))) &&
		norm(a.Using) == norm(b.Using) && norm(a.WithCheck) == norm(b.WithCheck)
}

// describePolicy renders p in one line, for a detail.
func describePolicy(p Policy) string {
	kind := "PERMISSIVE"
	if !p.Permissive {
		kind = "RESTRICTIVE"
	}
	s := fmt.Sprintf("AS %s FOR %s TO %s", kind, p.Command, strings.Join(p.Roles, ", "))
	if p.Using != "" {
		s += " USING " + shorten(p.Using)
	}
	if p.WithCheck != "" {
		s += " WITH CHECK " + shorten(p.WithCheck)
	}
	return s
}

// writes reports whether a policy for command applies to new or changed rows.
func writes(command string) bool {
	return command == "ALL" || command == "INSERT" || command == "UPDATE"
}

// roleViolations checks the runtime role and the roles it belongs to.
func roleViolations(cat catalog, runtimeRole string) []Violation {
	var vs []Violation
	add := func(kind Kind, format string, args ...any) {
		vs = append(vs, Violation{Kind: kind, Detail: fmt.Sprintf(format, args...)})
	}
	r := cat.role
	if r == nil {
		add(RuntimeRoleMissing, "runtime role %q does not exist", runtimeRole)
		return vs
	}
	if r.superuser {
		add(RuntimeRoleSuperuser, "runtime role %q is a superuser, which bypasses row level security", r.name)
	}
	if r.bypassRLS {
		add(RuntimeRoleBypassRLS, "runtime role %q has BYPASSRLS", r.name)
	}
	if r.createRole {
		add(RuntimeRoleCreateRole, "runtime role %q has CREATEROLE, so it could grant itself other roles", r.name)
	}
	if r.createDB {
		add(RuntimeRoleCreateDB, "runtime role %q has CREATEDB", r.name)
	}

	owned := map[string][]string{}
	for _, t := range cat.tables {
		owned[t.owner] = append(owned[t.owner], t.name)
	}
	for _, m := range cat.memberOf {
		if tables := owned[m.name]; len(tables) > 0 {
			add(RuntimeRoleMemberOfOwner, "runtime role %q is a member of %q, which owns %s; it could SET ROLE and switch row level security off",
				r.name, m.name, listTables(tables))
		}
		if attrs := privileges(m); len(attrs) > 0 {
			add(RuntimeRoleMemberOfPrivileged, "runtime role %q is a member of %q, which has %s; it could SET ROLE and bypass row level security",
				r.name, m.name, strings.Join(attrs, " and "))
		}
	}
	return vs
}

// privileges lists the attributes of r that defeat row level security when
// the runtime role switches to r.
func privileges(r role) []string {
	var attrs []string
	if r.superuser {
		attrs = append(attrs, "SUPERUSER")
	}
	if r.bypassRLS {
		attrs = append(attrs, "BYPASSRLS")
	}
	if r.createRole {
		attrs = append(attrs, "CREATEROLE")
	}
	return attrs
}

// listTables names up to three tables, sorted, for a one-line detail.
func listTables(tables []string) string {
	tables = slices.Sorted(slices.Values(tables))
	const shown = 3
	if len(tables) == 1 {
		return fmt.Sprintf("tenant table %q", tables[0])
	}
	quoted := make([]string, 0, shown)
	for _, t := range tables[:min(shown, len(tables))] {
		quoted = append(quoted, fmt.Sprintf("%q", t))
	}
	if len(tables) > shown {
		return fmt.Sprintf("tenant tables %s and %d more", strings.Join(quoted, ", "), len(tables)-shown)
	}
	return "tenant tables " + strings.Join(quoted, ", ")
}

// definerViolations reports SECURITY DEFINER functions, which run with their
// owner's rights.
func definerViolations(signatures []string, schema string) []Violation {
	var vs []Violation
	for _, sig := range signatures {
		vs = append(vs, Violation{Kind: SecurityDefinerFunction,
			Detail: fmt.Sprintf("function %s in schema %q is SECURITY DEFINER, so it runs with its owner's rights", sig, schema)})
	}
	return vs
}

// viewViolations reports views that read their tables with their owner's
// rights and materialized views, whose rows no policy filters.
func viewViolations(views []view, schema string) []Violation {
	var vs []Violation
	for _, v := range views {
		switch {
		case v.materialized:
			vs = append(vs, Violation{Table: v.name, Kind: ViewWithoutSecurityInvoker,
				Detail: fmt.Sprintf("materialized view %q in schema %q stores rows that no row level security policy filters", v.name, schema)})
		case !v.securityInvoker:
			vs = append(vs, Violation{Table: v.name, Kind: ViewWithoutSecurityInvoker,
				Detail: fmt.Sprintf("view %q in schema %q does not set security_invoker=true, so it reads with its owner's rights", v.name, schema)})
		}
	}
	return vs
}

// tenantScoped reports whether expr, as pg_get_expr deparses it, requires key
// to equal the tenant function: the comparison must be the whole expression
// or one of its top-level AND terms, so that no OR can widen it.
func tenantScoped(expr, key, schema string) bool {
	return requires(expr, key, tenantFunction, schema)
}

// keyedLookup reports whether expr requires the lookup column to equal the
// lookup function, in the same way.
func keyedLookup(expr, schema string) bool {
	return requires(expr, lookupColumn, lookupFunction, schema)
}

// requires reports whether expr, or one of its top-level AND terms, is
// "column = function()".
func requires(expr, column, function, schema string) bool {
	for _, term := range conjuncts(expr) {
		if comparison(term, column, function, schema) {
			return true
		}
	}
	return false
}

// comparison reports whether term is "column = f()" or "f() = column",
// where f() is function, possibly schema-qualified, possibly wrapped in a
// scalar sub-select "( SELECT f() AS f)".
func comparison(term, column, function, schema string) bool {
	lhs, rhs, ok := strings.Cut(term, " = ")
	if !ok {
		return false
	}
	lhs, rhs = stripParens(lhs), stripParens(rhs)
	isColumn := func(s string) bool { return s == column || s == `"`+column+`"` }
	return (isColumn(lhs) && calls(rhs, function, schema)) || (calls(lhs, function, schema) && isColumn(rhs))
}

// calls reports whether s calls function.
func calls(s, function, schema string) bool {
	if rest, ok := cutPrefixFold(s, "SELECT "); ok {
		s = strings.TrimSpace(rest)
		if i := strings.LastIndex(strings.ToUpper(s), " AS "); i >= 0 && !strings.Contains(s[i+len(" AS "):], " ") {
			s = strings.TrimSpace(s[:i])
		}
	}
	call := function + "()"
	for _, qualifier := range []string{"", schema + ".", `"` + schema + `".`} {
		if s == qualifier+call {
			return true
		}
	}
	return false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// conjuncts splits expr into its top-level AND terms, each without its outer
// parentheses. An expression with a top-level OR is one term.
func conjuncts(expr string) []string {
	s := stripParens(strings.Join(strings.Fields(expr), " "))
	var terms []string
	start := 0
	for i := range topLevel(s) {
		switch {
		case hasFoldAt(s, i, " OR "):
			return []string{s}
		case hasFoldAt(s, i, " AND "):
			terms = append(terms, stripParens(s[start:i]))
			start = i + len(" AND ")
		}
	}
	return append(terms, stripParens(s[start:]))
}

// parenDepths yields each byte offset of s outside quotes with the
// parenthesis depth after that byte.
func parenDepths(s string) func(yield func(int, int) bool) {
	return func(yield func(int, int) bool) {
		depth := 0
		var quote byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
				continue
			case c == '\'' || c == '"':
				quote = c
				continue
			case c == '(':
				depth++
			case c == ')':
				depth--
			}
			if !yield(i, depth) {
				return
			}
		}
	}
}

// topLevel yields the byte offsets of s outside parentheses and quotes.
func topLevel(s string) func(yield func(int) bool) {
	return func(yield func(int) bool) {
		for i, depth := range parenDepths(s) {
			if depth == 0 && s[i] != ')' && !yield(i) {
				return
			}
		}
	}
}

func hasFoldAt(s string, i int, word string) bool {
	return len(s)-i >= len(word) && strings.EqualFold(s[i:i+len(word)], word)
}

// stripParens removes surrounding spaces and any parentheses that enclose
// all of s.
func stripParens(s string) string {
	for {
		s = strings.TrimSpace(s)
		if len(s) < 2 || s[0] != '(' || closing(s) != len(s)-1 {
			return s
		}
		s = s[1 : len(s)-1]
	}
}

// closing returns the offset of the parenthesis closing s[0], or -1.
func closing(s string) int {
	for i, depth := range parenDepths(s) {
		if depth == 0 {
			return i
		}
	}
	return -1
}

// shorten keeps an expression short enough for a one-line detail.
func shorten(expr string) string {
	const limit = 60
	s := []rune(strings.Join(strings.Fields(expr), " "))
	if len(s) <= limit {
		return string(s)
	}
	return string(s[:limit]) + "..."
}
