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
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-logr/logr"
	"github.com/jackc/pgx/v5"
)

// The only words an Action's Items may put into a statement.
var (
	privilegeRE  = regexp.MustCompile(`^(SELECT|INSERT|UPDATE|DELETE|TRUNCATE|REFERENCES|TRIGGER|MAINTAIN|CONNECT|CREATE|TEMPORARY|USAGE)$`)
	attributeRE  = regexp.MustCompile(`^((NO)?(SUPERUSER|INHERIT|CREATEROLE|CREATEDB|LOGIN|REPLICATION|BYPASSRLS)|CONNECTION LIMIT -?[0-9]+|VALID UNTIL 'infinity')$`)
	memberOptsRE = regexp.MustCompile(`^(INHERIT|SET|ADMIN) (TRUE|FALSE)$`)
	// verifierRE is the whole alphabet of a SCRAM verifier: base64, '$' and ':'.
	verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)
	// columnPrivilegeRE is a privilege on one column, as "UPDATE(revoked_at)".
	columnPrivilegeRE = regexp.MustCompile(`^(SELECT|INSERT|UPDATE|REFERENCES)\(([a-z_][a-z0-9_]{0,62})\)$`)
)

// apply runs actions one statement at a time, outside any transaction
// (CREATE DATABASE cannot run in one), and returns those that succeeded.
// Statements go through the underlying pgconn, so a query tracer on the
// pgx.Conn never sees a verifier.
func apply(ctx context.Context, conn *pgx.Conn, spec Spec, actions []Action, log logr.Logger) ([]Action, error) {
	var done []Action
	for _, a := range actions {
		sql, err := render(a, spec)
		if err != nil {
			return done, err
		}
		log.Info("Applying catalog change", a.logValues()...)
		if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
			return done, fmt.Errorf("applying %s: %w", a, err)
		}
		done = append(done, a)
	}
	return done, nil
}

// render writes the statement for a. Statements that set a password carry a
// freshly computed SCRAM verifier, never the password.
func render(a Action, spec Spec) (string, error) {
	target, role := ident(a.Target), ident(a.Role)
	switch a.Kind {
	case CreateRole, SetPassword:
		return renderPassword(a, spec)
	case AlterRole:
		attrs, err := joinChecked(a, " ", attributeRE)
		if err != nil {
			return "", err
		}
		return "ALTER ROLE " + target + " WITH " + attrs, nil
	case GrantMembership:
		opts, err := joinChecked(a, ", ", memberOptsRE)
		if err != nil {
			return "", err
		}
		if opts != "" {
			opts = " WITH " + opts
		}
		return "GRANT " + role + " TO " + target + opts, nil
	case RevokeMembership:
		sql := "REVOKE " + role + " FROM " + target
		if a.Grantor != "" {
			sql += " GRANTED BY " + ident(a.Grantor)
		}
		return sql, nil
	case CreateDatabase:
		return "CREATE DATABASE " + target + " OWNER " + role, nil
	case AlterDatabaseOwner:
		return "ALTER DATABASE " + target + " OWNER TO " + role, nil
	case CreateSchema:
		return "CREATE SCHEMA " + target + " AUTHORIZATION " + role, nil
	case AlterSchemaOwner:
		return "ALTER SCHEMA " + target + " OWNER TO " + role, nil
	case GrantDatabase, RevokeDatabase:
		return renderGrant(a, "DATABASE "+target)
	case GrantSchema, RevokeSchema:
		return renderGrant(a, "SCHEMA "+target)
	case GrantTable, RevokeTable:
		return renderGrant(a, "TABLE "+pgx.Identifier{spec.Schema, a.Target}.Sanitize())
	}
	return "", fmt.Errorf("rendering %s: unknown action kind", a)
}

// renderPassword writes CREATE ROLE or ALTER ROLE with the role's verifier.
func renderPassword(a Action, spec Spec) (string, error) {
	var password string
	switch a.Target {
	case spec.Owner.Name:
		password = spec.Owner.Password
	case spec.Runtime.Name:
		password = spec.Runtime.Password
	default:
		return "", fmt.Errorf("rendering %s: no password for role %s", a, a.Target)
	}
	verifier, err := newVerifier(password)
	if err != nil {
		return "", fmt.Errorf("computing the verifier of role %s: %w", a.Target, err)
	}
	if !verifierRE.MatchString(verifier) {
		return "", fmt.Errorf("rendering %s: the computed verifier has an unexpected form", a)
	}
	sql := "ALTER ROLE " + ident(a.Target) + " WITH"
	if a.Kind == CreateRole {
		attrs, err := joinChecked(a, " ", attributeRE)
		if err != nil {
			return "", err
		}
		sql = "CREATE ROLE " + ident(a.Target) + " WITH " + attrs
	}
	return sql + " PASSWORD '" + verifier + "'", nil
}

// renderGrant writes GRANT ... TO or REVOKE ... FROM ... CASCADE on object.
// CASCADE also takes back what the grantee passed on with a grant option.
// An item may name one column, as "UPDATE(revoked_at)" (tables only).
func renderGrant(a Action, object string) (string, error) {
	items := make([]string, len(a.Items))
	for i, item := range a.Items {
		switch m := columnPrivilegeRE.FindStringSubmatch(item); {
		case privilegeRE.MatchString(item):
			items[i] = item
		case m != nil && (a.Kind == GrantTable || a.Kind == RevokeTable):
			items[i] = m[1] + " (" + ident(m[2]) + ")"
		default:
			return "", fmt.Errorf("rendering %s: unexpected item %q", a, item)
		}
	}
	privs := strings.Join(items, ", ")
	if privs == "" {
		return "", fmt.Errorf("rendering %s: no privileges", a)
	}
	switch a.Kind {
	case GrantDatabase, GrantSchema, GrantTable:
		return "GRANT " + privs + " ON " + object + " TO " + grantee(a.Role), nil
	default:
		return "REVOKE " + privs + " ON " + object + " FROM " + grantee(a.Role) + " CASCADE", nil
	}
}

// joinChecked joins a.Items after checking each against re.
func joinChecked(a Action, sep string, re *regexp.Regexp) (string, error) {
	for _, item := range a.Items {
		if !re.MatchString(item) {
			return "", fmt.Errorf("rendering %s: unexpected item %q", a, item)
		}
	}
	return strings.Join(a.Items, sep), nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// grantee writes a role name, or the PUBLIC keyword.
func grantee(name string) string {
	if name == PublicGrantee {
		return "PUBLIC"
	}
	return ident(name)
}
