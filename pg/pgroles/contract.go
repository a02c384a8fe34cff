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

package pgroles

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// roleAttributes are a role's flags as pg_roles shows them.
type roleAttributes struct {
	Superuser, Inherit, CreateRole, CreateDB, Login, Replication, BypassRLS bool
	ConnectionLimit                                                         int
	// Expires is true when rolvaliduntil is a finite time.
	Expires bool
}

// ownerAttributes are the owner role's: it logs in and nothing more.
func ownerAttributes() roleAttributes {
	return roleAttributes{Inherit: true, Login: true, ConnectionLimit: -1}
}

// runtimeAttributes are the runtime role's: it logs in and does not even
// inherit the privileges of a role it might be made a member of.
func runtimeAttributes() roleAttributes {
	return roleAttributes{Login: true, ConnectionLimit: -1}
}

// clauses writes a out for CREATE ROLE or ALTER ROLE. Without withSuperuserOnly
// the clauses that only a superuser may write are left out: PostgreSQL refuses
// them from anyone else even when they would change nothing.
func (a roleAttributes) clauses(withSuperuserOnly bool) []string {
	var c []string
	if withSuperuserOnly {
		c = append(c, flag(a.Superuser, "SUPERUSER"))
	}
	c = append(c, flag(a.Inherit, "INHERIT"), flag(a.CreateRole, "CREATEROLE"),
		flag(a.CreateDB, "CREATEDB"), flag(a.Login, "LOGIN"))
	if withSuperuserOnly {
		c = append(c, flag(a.Replication, "REPLICATION"), flag(a.BypassRLS, "BYPASSRLS"))
	}
	c = append(c, fmt.Sprintf("CONNECTION LIMIT %d", a.ConnectionLimit))
	if !a.Expires {
		c = append(c, "VALID UNTIL 'infinity'")
	}
	return c
}

func flag(on bool, name string) string {
	if on {
		return name
	}
	return "NO" + name
}

// superuserOnly names the superuser-only attributes a has.
func (a roleAttributes) superuserOnly() []string {
	var s []string
	for _, f := range []struct {
		on   bool
		name string
	}{{a.Superuser, "SUPERUSER"}, {a.Replication, "REPLICATION"}, {a.BypassRLS, "BYPASSRLS"}} {
		if f.on {
			s = append(s, f.name)
		}
	}
	return s
}

// passwordState says whether a role's stored password is the wanted one.
type passwordState int

const (
	passwordMatches passwordState = iota
	passwordDiffers
	passwordUnknown // could not be checked; set it again
)

// membership is a role another role is a member of.
type membership struct {
	Role    string
	Grantor string
}

// roleFacts is what the catalog says about one role.
type roleFacts struct {
	Exists     bool
	Attributes roleAttributes
	MemberOf   []membership
	Password   passwordState
}

// adminFacts is what the catalog says about the admin connection's role.
type adminFacts struct {
	User, SessionUser string
	Superuser         bool
	// ReadsAuthid is true when pg_authid (stored verifiers) is readable.
	ReadsAuthid   bool
	ServerVersion int
	// SetsOwner is true when the admin may act as the owner role, which
	// CREATE DATABASE ... OWNER and ALTER ... OWNER TO require.
	SetsOwner bool
}

// privileges maps a privilege name to whether it is held with grant option.
type privileges map[string]bool

// objectFacts is what the catalog says about a database or a schema: its
// owner and the privileges of PUBLIC, the owner role and the runtime role.
type objectFacts struct {
	Exists bool
	Owner  string
	Grants map[string]privileges
}

// tableFacts holds the privileges of the runtime role and of PUBLIC on one
// table, on the table itself and on any of its columns (named
// "PRIVILEGE(column)"), and the table's column names.
type tableFacts struct {
	Name         string
	Columns      []string
	Grants       map[string]privileges
	ColumnGrants map[string]privileges
}

// provisionFacts is everything EnsureRoles decides from.
type provisionFacts struct {
	Admin          adminFacts
	Owner, Runtime roleFacts
	Database       objectFacts
}

// planProvisioning lists the changes that make the roles and the database
// match spec, in the order they must run.
func planProvisioning(spec Spec, f provisionFacts) ([]Action, error) {
	for _, name := range []string{spec.Owner.Name, spec.Runtime.Name} {
		if name == f.Admin.User || name == f.Admin.SessionUser {
			return nil, fmt.Errorf("%w: role %s is the admin connection's own role", ErrInvalidSpec, name)
		}
	}
	owner, err := planRole(spec.Owner.Name, ownerAttributes(), f.Owner, f.Admin)
	if err != nil {
		return nil, err
	}
	runtime, err := planRole(spec.Runtime.Name, runtimeAttributes(), f.Runtime, f.Admin)
	if err != nil {
		return nil, err
	}
	actions := slices.Concat(owner, runtime)
	if !f.Admin.Superuser && !f.Admin.SetsOwner {
		actions = append(actions, grantOwnerToAdmin(spec, f.Admin))
	}
	return append(actions, planDatabase(spec, f.Database)...), nil
}

// planRole lists the changes that give role name the attributes want, no
// memberships and the wanted password.
func planRole(name string, want roleAttributes, got roleFacts, admin adminFacts) ([]Action, error) {
	if !got.Exists {
		return []Action{{Kind: CreateRole, Target: name, Items: want.clauses(true)}}, nil
	}
	if extra := got.Attributes.superuserOnly(); len(extra) > 0 && !admin.Superuser {
		return nil, fmt.Errorf("%w: role %s has %s, which only a superuser can take away; "+
			"run ALTER ROLE %s NOSUPERUSER NOREPLICATION NOBYPASSRLS as a superuser",
			ErrSuperuserRequired, name, strings.Join(extra, ", "), name)
	}
	var actions []Action
	if got.Attributes != want {
		actions = append(actions, Action{Kind: AlterRole, Target: name, Items: want.clauses(admin.Superuser)})
	}
	for _, m := range got.MemberOf {
		actions = append(actions, Action{Kind: RevokeMembership, Target: name, Role: m.Role, Grantor: m.Grantor})
	}
	if got.Password != passwordMatches {
		actions = append(actions, Action{Kind: SetPassword, Target: name})
	}
	return actions, nil
}

// grantOwnerToAdmin lets a non-superuser admin act as the owner role. From
// PostgreSQL 16 a membership carries options, and both are needed: SET for
// the OWNER clauses, INHERIT to act on the owner's objects.
func grantOwnerToAdmin(spec Spec, admin adminFacts) Action {
	a := Action{Kind: GrantMembership, Target: admin.User, Role: spec.Owner.Name}
	if admin.ServerVersion >= 160000 {
		a.Items = []string{"INHERIT TRUE", "SET TRUE"}
	}
	return a
}

// planDatabase lists the changes that make the database exist, belong to the
// owner and accept connections from the owner and runtime roles only.
func planDatabase(spec Spec, got objectFacts) []Action {
	var actions []Action
	db := spec.Database
	if !got.Exists {
		actions = append(actions, Action{Kind: CreateDatabase, Target: db, Role: spec.Owner.Name})
		got = objectFacts{Exists: true, Owner: spec.Owner.Name, Grants: map[string]privileges{
			PublicGrantee:   {"CONNECT": false, "TEMPORARY": false},
			spec.Owner.Name: {"CREATE": false, "CONNECT": false, "TEMPORARY": false},
		}}
	} else if got.Owner != spec.Owner.Name {
		actions = append(actions, Action{Kind: AlterDatabaseOwner, Target: db, Role: spec.Owner.Name})
		got = got.withOwner(spec.Owner.Name)
	}
	// No TEMPORARY but the owner's: a temporary table comes first in an
	// unqualified name's search, so it could shadow one of the schema's.
	rules := []privilegeRule{
		{Grantee: PublicGrantee},
		{Grantee: spec.Owner.Name, Required: []string{"CONNECT"}, AnyOther: true},
		{Grantee: spec.Runtime.Name, Required: []string{"CONNECT"}, Allowed: []string{"CONNECT"}},
	}
	return append(actions, planGrants(GrantDatabase, RevokeDatabase, db, rules, got.Grants, nil)...)
}

// planSchema lists the changes that make the schema exist, belong to the
// owner, be usable by the runtime role and let nobody else create in it.
func planSchema(spec Spec, got objectFacts) []Action {
	var actions []Action
	if !got.Exists {
		actions = append(actions, Action{Kind: CreateSchema, Target: spec.Schema, Role: spec.Owner.Name})
		got = objectFacts{Exists: true, Owner: spec.Owner.Name, Grants: map[string]privileges{
			spec.Owner.Name: {"USAGE": false, "CREATE": false},
		}}
	} else if got.Owner != spec.Owner.Name {
		actions = append(actions, Action{Kind: AlterSchemaOwner, Target: spec.Schema, Role: spec.Owner.Name})
		got = got.withOwner(spec.Owner.Name)
	}
	rules := []privilegeRule{
		{Grantee: PublicGrantee, Allowed: []string{"USAGE"}},
		{Grantee: spec.Runtime.Name, Required: []string{"USAGE"}, Allowed: []string{"USAGE"}},
	}
	return append(actions, planGrants(GrantSchema, RevokeSchema, spec.Schema, rules, got.Grants, nil)...)
}

// planTables lists the changes that make the runtime role's privileges on
// every table of the schema exactly those in grants (sorted privilege names
// per table), and take every table privilege away from PUBLIC.
func planTables(spec Spec, grants map[string][]string, tables []tableFacts) ([]Action, error) {
	known := make(map[string]bool, len(tables))
	for _, t := range tables {
		known[t.Name] = true
	}
	var missing []string
	for name := range grants {
		if !known[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("%w: schema %s has no table %s", ErrUnknownTable, spec.Schema, strings.Join(missing, ", "))
	}
	var actions []Action
	for _, t := range slices.SortedFunc(slices.Values(tables), byName) {
		for _, p := range grants[t.Name] {
			if _, column, ok := columnPrivilege(p); ok && !slices.Contains(t.Columns, column) {
				return nil, fmt.Errorf("%w: table %s.%s has no column %s", ErrUnknownColumn, spec.Schema, t.Name, column)
			}
		}
		rules := []privilegeRule{
			{Grantee: spec.Runtime.Name, Required: grants[t.Name], Allowed: grants[t.Name]},
			{Grantee: PublicGrantee},
		}
		actions = append(actions, planGrants(GrantTable, RevokeTable, t.Name, rules, t.Grants, t.ColumnGrants)...)
	}
	return actions, nil
}

func byName(a, b tableFacts) int { return strings.Compare(a.Name, b.Name) }

// withOwner is o after ALTER ... OWNER TO owner: PostgreSQL hands the old
// owner's privileges to the new one.
func (o objectFacts) withOwner(owner string) objectFacts {
	grants := maps.Clone(o.Grants)
	if grants == nil {
		grants = map[string]privileges{}
	}
	merged := maps.Clone(grants[owner])
	if merged == nil {
		merged = privileges{}
	}
	for p, g := range grants[o.Owner] {
		merged[p] = merged[p] || g
	}
	delete(grants, o.Owner)
	grants[owner] = merged
	return objectFacts{Exists: o.Exists, Owner: owner, Grants: grants}
}
