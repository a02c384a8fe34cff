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
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultSchema is the schema checked when Options.Schema is empty.
const DefaultSchema = "public"

// Conventions of the schema being checked.
const (
	// tenantColumn is the column that makes a table a tenant table.
	tenantColumn = "org_id"
	// organizationsTable is the tenant table whose tenant key is its own id.
	organizationsTable = "organizations"
	// organizationsKey is the tenant key of organizationsTable.
	organizationsKey = "id"
	// tenantFunction is the function every tenant policy compares the tenant
	// key with.
	tenantFunction = "rekomi_current_org"
	// lookupColumn and lookupFunction: a public lookup table's SELECT policy
	// may show the row whose lookupColumn equals lookupFunction(), the key a
	// lookup named for its own transaction.
	lookupColumn   = "key"
	lookupFunction = "rekomi_route_key"
)

// ErrNoRuntimeRole is returned by Verify when Options.RuntimeRole is empty.
var ErrNoRuntimeRole = errors.New("options: RuntimeRole is required")

// Querier runs catalog queries. *pgx.Conn, *pgxpool.Pool and pgx.Tx satisfy
// it; pass a REPEATABLE READ transaction to read every fact from one
// snapshot.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Options say what to check.
type Options struct {
	// Schema holds the tenant tables. Defaults to DefaultSchema.
	Schema string
	// RuntimeRole is the role the app connects as. Required.
	RuntimeRole string
	// PublicLookupTables may have a permissive SELECT policy that shows a
	// row to a lookup naming its exact key (key = rekomi_route_key()): the
	// routing table, resolved before the tenant is known. Their other
	// policies must still be tenant-scoped, and none may show every row.
	PublicLookupTables []string
	// Policies, when not nil, is the exact policy set of the tenant tables:
	// a policy missing from the catalog, one that differs, and one on a
	// tenant table that is not in the set are reported, even when the
	// rules above hold.
	Policies []Policy
	// SchemaNewer says the schema was migrated past the one Policies
	// describes, as it is while the pods of the binary that migrated it
	// replace those of the binary checking. A tenant table that no policy
	// of Policies names is then one the newer schema added: it is held to
	// the rules alone and listed in Report.NewerTables. Every table that
	// Policies names is still compared exactly.
	SchemaNewer bool
}

// Table is a tenant table as the catalog shows it.
type Table struct {
	Name                  string
	RLSEnabled, RLSForced bool
	Owner                 string
	// Policies are the table's policies, sorted by name.
	Policies []Policy
}

// Policy is a row-level security policy as pg_policies shows it.
type Policy struct {
	Table, Name string
	// Command is ALL, SELECT, INSERT, UPDATE or DELETE.
	Command    string
	Permissive bool
	// Roles are the roles the policy applies to, {public} for every role.
	Roles []string
	// Using and WithCheck are the expressions as pg_get_expr deparses them,
	// empty when absent.
	Using, WithCheck string
}

func (o Options) withDefaults() (Options, error) {
	if o.RuntimeRole == "" {
		return o, ErrNoRuntimeRole
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	return o, nil
}

// Kind names a violated rule. Its values are CamelCase so that they can serve
// as condition reasons.
type Kind string

// The rules. Table rules apply to every tenant table.
const (
	// OrganizationsMissing: the schema has no organizations table, so it is
	// not (yet) a rekomi schema and nothing can be verified.
	OrganizationsMissing Kind = "OrganizationsMissing"
	// RLSDisabled: row-level security is off, so every grant reads every row.
	RLSDisabled Kind = "RLSDisabled"
	// RLSNotForced: the table owner bypasses the policies.
	RLSNotForced Kind = "RLSNotForced"
	// NoPolicy: no permissive policy, so RLS cannot scope the table to a
	// tenant (restrictive policies alone only narrow).
	NoPolicy Kind = "NoPolicy"
	// PolicyWithoutCheck: a permissive ALL, INSERT or UPDATE policy has no
	// WITH CHECK expression.
	PolicyWithoutCheck Kind = "PolicyWithoutCheck"
	// PolicyNotTenantScoped: a permissive policy's USING or WITH CHECK does
	// not require the tenant key to equal rekomi_current_org().
	PolicyNotTenantScoped Kind = "PolicyNotTenantScoped"
	// OwnedByRuntimeRole: the runtime role owns the table, so it could
	// disable RLS or drop the policies.
	OwnedByRuntimeRole Kind = "OwnedByRuntimeRole"
	// MissingTenantIndex: no valid index has the tenant key as first column.
	MissingTenantIndex Kind = "MissingTenantIndex"

	// RuntimeRoleMissing: the runtime role does not exist.
	RuntimeRoleMissing Kind = "RuntimeRoleMissing"
	// RuntimeRoleSuperuser: superusers bypass RLS even when it is forced.
	RuntimeRoleSuperuser Kind = "RuntimeRoleSuperuser"
	// RuntimeRoleBypassRLS: the role bypasses every policy.
	RuntimeRoleBypassRLS Kind = "RuntimeRoleBypassRLS"
	// RuntimeRoleCreateRole: the role could grant itself other roles.
	RuntimeRoleCreateRole Kind = "RuntimeRoleCreateRole"
	// RuntimeRoleCreateDB: the role could create databases.
	RuntimeRoleCreateDB Kind = "RuntimeRoleCreateDB"
	// RuntimeRoleMemberOfOwner: the runtime role belongs, directly or
	// transitively, to a role owning a tenant table, so it could SET ROLE and
	// switch RLS off.
	RuntimeRoleMemberOfOwner Kind = "RuntimeRoleMemberOfOwner"
	// RuntimeRoleMemberOfPrivileged: the runtime role belongs, directly or
	// transitively, to a SUPERUSER, BYPASSRLS or CREATEROLE role it could
	// SET ROLE to.
	RuntimeRoleMemberOfPrivileged Kind = "RuntimeRoleMemberOfPrivileged"

	// SecurityDefinerFunction: a function in the schema runs with its
	// owner's rights instead of the caller's.
	SecurityDefinerFunction Kind = "SecurityDefinerFunction"
	// GrantedToOtherRole: a tenant table (or one of its columns) grants a
	// privilege to a role that neither owns it nor is the runtime role, or
	// to PUBLIC; such a role could name any tenant and read its rows.
	GrantedToOtherRole Kind = "GrantedToOtherRole"
	// RuntimeRoleTruncate: the runtime role may TRUNCATE a tenant table,
	// which row-level security does not restrict: it empties every tenant's
	// rows at once.
	RuntimeRoleTruncate Kind = "RuntimeRoleTruncate"

	// PolicyMissing, PolicyAltered and PolicyUnexpected compare the tenant
	// tables' policies with Options.Policies: one is absent, one differs,
	// one is not in the set.
	PolicyMissing    Kind = "PolicyMissing"
	PolicyAltered    Kind = "PolicyAltered"
	PolicyUnexpected Kind = "PolicyUnexpected"

	// ViewWithoutSecurityInvoker: a view in the schema reads its tables with
	// its owner's rights (security_invoker is not true), or a materialized
	// view stores rows outside RLS.
	ViewWithoutSecurityInvoker Kind = "ViewWithoutSecurityInvoker"
)

// Violation is one broken rule.
type Violation struct {
	// Table is the table or view concerned; empty for violations of the
	// runtime role and of functions.
	Table string
	// Policy is the policy concerned, for the policy-set kinds.
	Policy string
	// Grantee is the role holding the privileges, for GrantedToOtherRole:
	// a role name, or PUBLIC.
	Grantee string
	// Kind is the rule broken.
	Kind Kind
	// Detail explains the violation in one line that names the object.
	Detail string
}

// Report is the outcome of Verify.
type Report struct {
	// TenantTables are the tenant tables found, sorted by name.
	TenantTables []string
	// Tables are the same tables as the catalog shows them.
	Tables []Table
	// NewerTables are the tenant tables of a newer schema (see
	// Options.SchemaNewer) checked by the rules alone, sorted by name.
	NewerTables []string
	// Violations are sorted by table, kind and detail.
	Violations []Violation
}

// OK reports whether no rule is broken.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// summaryViolations is how many violations Summary spells out.
const summaryViolations = 3

// Summary is a one-line account for a condition message, such as
// "17 tenant tables, 0 violations" or "17 tenant tables, 5 violations:
// <first three details>; and 2 more".
func (r Report) Summary() string {
	var b strings.Builder
	b.WriteString(plural(len(r.TenantTables), "tenant table"))
	if len(r.NewerTables) > 0 {
		fmt.Fprintf(&b, " (%d of a newer schema, held to the rules alone: %s)", len(r.NewerTables), strings.Join(r.NewerTables, ", "))
	}
	fmt.Fprintf(&b, ", %s", plural(len(r.Violations), "violation"))
	for i, v := range r.Violations {
		if i == summaryViolations {
			fmt.Fprintf(&b, "; and %d more", len(r.Violations)-i)
			break
		}
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.Detail)
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Verify reads the catalog through q and checks every rule. It returns an
// error only when the catalog cannot be read; broken rules are in the Report.
func Verify(ctx context.Context, q Querier, opts Options) (Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Report{}, err
	}
	cat, err := readCatalog(ctx, q, opts.Schema, opts.RuntimeRole)
	if err != nil {
		return Report{}, err
	}
	return evaluate(cat, opts), nil
}
