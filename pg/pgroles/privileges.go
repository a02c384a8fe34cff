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
	"slices"
	"strings"
)

// privilegeRule says which privileges one grantee must and may hold on an
// object.
type privilegeRule struct {
	Grantee string
	// Required privileges are granted when missing.
	Required []string
	// Allowed privileges (a superset of Required) are left alone; any other
	// is revoked.
	Allowed []string
	// AnyOther leaves every privilege beyond Required alone, grant options
	// included.
	AnyOther bool
}

// diff returns the privileges to revoke and then grant so that a grantee
// holding table (and column) privileges obeys r. Column privileges are
// named "PRIVILEGE(column)" in columns and in r. A privilege held with grant
// option is revoked and granted again without it. Revoking a table privilege
// also revokes it on every column, so a column privilege of the same kind
// that r requires is then granted again.
func (r privilegeRule) diff(table, columns privileges) (revoke, grant []string) {
	if !r.AnyOther {
		for _, have := range []privileges{table, columns} {
			for p, grantable := range have {
				if grantable || !slices.Contains(r.Allowed, p) {
					revoke = append(revoke, p)
				}
			}
		}
	}
	revokedOnTable := slices.Clone(revoke)
	takenWithTable := func(p string) bool {
		base, _, ok := columnPrivilege(p)
		return ok && slices.Contains(revokedOnTable, base)
	}
	for _, p := range r.Required {
		held := table
		if _, _, ok := columnPrivilege(p); ok {
			held = columns
		}
		grantable, ok := held[p]
		if !ok || (grantable && !r.AnyOther) || takenWithTable(p) {
			grant = append(grant, p)
		}
	}
	revoke = slices.DeleteFunc(revoke, takenWithTable)
	return sortedSet(revoke), sortedSet(grant)
}

// columnPrivilege splits "PRIVILEGE(column)" into its parts; ok is false
// for a table privilege.
func columnPrivilege(p string) (privilege, column string, ok bool) {
	privilege, rest, found := strings.Cut(p, "(")
	column, closed := strings.CutSuffix(rest, ")")
	if !found || !closed {
		return p, "", false
	}
	return privilege, column, true
}

// planGrants lists the revokes and grants on one object that make every
// grantee in rules obey its rule.
func planGrants(grantKind, revokeKind ActionKind, target string, rules []privilegeRule,
	table, columns map[string]privileges) []Action {
	var actions []Action
	for _, r := range rules {
		revoke, grant := r.diff(table[r.Grantee], columns[r.Grantee])
		if len(revoke) > 0 {
			actions = append(actions, Action{Kind: revokeKind, Target: target, Role: r.Grantee, Items: revoke})
		}
		if len(grant) > 0 {
			actions = append(actions, Action{Kind: grantKind, Target: target, Role: r.Grantee, Items: grant})
		}
	}
	return actions
}

// sortedSet returns s sorted without duplicates, or nil when s is empty.
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
