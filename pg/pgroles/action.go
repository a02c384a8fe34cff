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
	"strings"
)

// ActionKind names one kind of change to the catalog.
type ActionKind string

// The changes EnsureRoles, EnsureSchema and EnsureTableGrants may make.
const (
	// CreateRole creates Target with the attributes in Items and its password.
	CreateRole ActionKind = "CreateRole"
	// AlterRole writes out the attributes in Items on Target.
	AlterRole ActionKind = "AlterRole"
	// SetPassword sets Target's password.
	SetPassword ActionKind = "SetPassword"
	// GrantMembership makes Target a member of Role, with the options in Items.
	GrantMembership ActionKind = "GrantMembership"
	// RevokeMembership removes Target from Role (granted by Grantor).
	RevokeMembership ActionKind = "RevokeMembership"
	// CreateDatabase creates database Target owned by Role.
	CreateDatabase ActionKind = "CreateDatabase"
	// AlterDatabaseOwner gives database Target to Role.
	AlterDatabaseOwner ActionKind = "AlterDatabaseOwner"
	// GrantDatabase grants Items on database Target to Role.
	GrantDatabase ActionKind = "GrantDatabase"
	// RevokeDatabase revokes Items on database Target from Role.
	RevokeDatabase ActionKind = "RevokeDatabase"
	// CreateSchema creates schema Target owned by Role.
	CreateSchema ActionKind = "CreateSchema"
	// AlterSchemaOwner gives schema Target to Role.
	AlterSchemaOwner ActionKind = "AlterSchemaOwner"
	// GrantSchema grants Items on schema Target to Role.
	GrantSchema ActionKind = "GrantSchema"
	// RevokeSchema revokes Items on schema Target from Role.
	RevokeSchema ActionKind = "RevokeSchema"
	// GrantTable grants Items on table Target (in the Spec's schema) to Role.
	GrantTable ActionKind = "GrantTable"
	// RevokeTable revokes Items on table Target, and on its columns, from Role.
	RevokeTable ActionKind = "RevokeTable"
)

// PublicGrantee stands for the PUBLIC pseudo-role in Action.Role.
const PublicGrantee = "PUBLIC"

// Action describes one change. It never holds a password or a verifier.
type Action struct {
	Kind ActionKind
	// Target is the role, database, schema or table changed.
	Target string
	// Role is the second role involved: grantee, new owner, or the role a
	// membership is granted in or revoked from. PublicGrantee for PUBLIC.
	Role string
	// Grantor is the grantor of a membership being revoked, when known.
	Grantor string
	// Items are the privileges granted or revoked, the role attributes
	// written, or the options of a membership granted.
	Items []string
}

// String describes a for people, e.g. "RevokeTable audit_log from rekomi_app: TRUNCATE".
func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", a.Kind, a.Target)
	if a.Role != "" {
		fmt.Fprintf(&b, " %s %s", a.preposition(), a.Role)
	}
	if a.Grantor != "" {
		fmt.Fprintf(&b, " granted by %s", a.Grantor)
	}
	if len(a.Items) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(a.Items, " "))
	}
	return b.String()
}

func (a Action) preposition() string {
	switch a.Kind {
	case RevokeDatabase, RevokeSchema, RevokeTable, RevokeMembership:
		return "from"
	case GrantMembership:
		return "in"
	case CreateDatabase, CreateSchema:
		return "owned by"
	default:
		return "to"
	}
}

// Result lists the changes made, in order; it is empty when the catalog
// already matched.
type Result struct {
	Actions []Action
}

// Changed reports whether anything was changed.
func (r Result) Changed() bool { return len(r.Actions) > 0 }

// logValues are a's fields as logr key/value pairs, leaving out empty ones.
func (a Action) logValues() []any {
	kv := []any{"kind", a.Kind, "target", a.Target}
	if a.Role != "" {
		kv = append(kv, "role", a.Role)
	}
	if a.Grantor != "" {
		kv = append(kv, "grantor", a.Grantor)
	}
	if len(a.Items) > 0 {
		kv = append(kv, "items", a.Items)
	}
	return kv
}
