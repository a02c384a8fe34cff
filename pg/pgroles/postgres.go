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
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// readAdmin reads what the admin connection's role is and may do.
func readAdmin(ctx context.Context, conn *pgx.Conn, owner string) (adminFacts, error) {
	var f adminFacts
	err := conn.QueryRow(ctx, `SELECT current_user, session_user, r.rolsuper,
			pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT'),
			pg_catalog.current_setting('server_version_num')::int
		FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`).
		Scan(&f.User, &f.SessionUser, &f.Superuser, &f.ReadsAuthid, &f.ServerVersion)
	if err != nil {
		return f, fmt.Errorf("reading the admin role: %w", err)
	}
	modes := []string{"MEMBER"}
	if f.ServerVersion >= 160000 {
		modes = []string{"SET", "USAGE"}
	}
	var sets *bool
	err = conn.QueryRow(ctx, `SELECT bool_and(pg_catalog.pg_has_role(current_user, r.oid, m))
		FROM pg_catalog.pg_roles r, unnest($2::text[]) m WHERE r.rolname = $1`, owner, modes).Scan(&sets)
	if err != nil {
		return f, fmt.Errorf("reading the admin's membership in role %s: %w", owner, err)
	}
	f.SetsOwner = sets != nil && *sets
	return f, nil
}

// readRole reads a role's attributes and memberships; the password is
// checked separately.
func readRole(ctx context.Context, conn *pgx.Conn, name string) (roleFacts, error) {
	var f roleFacts
	a := &f.Attributes
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
			rolreplication, rolbypassrls, rolconnlimit,
			coalesce(rolvaliduntil <> 'infinity', false)
		FROM pg_catalog.pg_roles WHERE rolname = $1`, name).
		Scan(&a.Superuser, &a.Inherit, &a.CreateRole, &a.CreateDB, &a.Login,
			&a.Replication, &a.BypassRLS, &a.ConnectionLimit, &a.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return roleFacts{}, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading role %s: %w", name, err)
	}
	f.Exists = true
	rows, _ := conn.Query(ctx, `SELECT g.rolname, coalesce(gr.rolname, '')
		FROM pg_catalog.pg_auth_members m
		JOIN pg_catalog.pg_roles r ON r.oid = m.member
		JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
		LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = m.grantor
		WHERE r.rolname = $1 ORDER BY 1, 2`, name)
	f.MemberOf, err = pgx.CollectRows(rows, pgx.RowToStructByPos[membership])
	if err != nil {
		return f, fmt.Errorf("reading the memberships of role %s: %w", name, err)
	}
	return f, nil
}

// readDatabase reads a database's owner and the privileges of PUBLIC and of
// the roles in spec on it.
func readDatabase(ctx context.Context, conn *pgx.Conn, spec Spec) (objectFacts, error) {
	return readObject(ctx, conn, "database "+spec.Database, `SELECT pg_catalog.pg_get_userbyid(d.datdba),
			`+aclGranteeSQL+`, a.privilege_type, a.is_grantable
		FROM pg_catalog.pg_database d
		LEFT JOIN LATERAL pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
			ON `+aclFilterSQL+`
		WHERE d.datname = $1`, spec.Database, spec)
}

// readSchema reads a schema's owner and the privileges of PUBLIC and of the
// roles in spec on it, in the connection's database.
func readSchema(ctx context.Context, conn *pgx.Conn, spec Spec) (objectFacts, error) {
	return readObject(ctx, conn, "schema "+spec.Schema, `SELECT pg_catalog.pg_get_userbyid(n.nspowner),
			`+aclGranteeSQL+`, a.privilege_type, a.is_grantable
		FROM pg_catalog.pg_namespace n
		LEFT JOIN LATERAL pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
			ON `+aclFilterSQL+`
		WHERE n.nspname = $1`, spec.Schema, spec)
}

// aclGranteeSQL names an aclexplode grantee, PUBLIC for 0; aclFilterSQL keeps
// the grantees that matter: PUBLIC, the owner ($2) and the runtime role ($3).
const (
	aclGranteeSQL = `CASE WHEN a.grantee = 0 THEN '` + PublicGrantee + `' ELSE pg_catalog.pg_get_userbyid(a.grantee) END`
	aclFilterSQL  = `(a.grantee = 0 OR a.grantee IN (SELECT oid FROM pg_catalog.pg_roles WHERE rolname IN ($2, $3)))`
)

// readObject scans rows of (owner, grantee, privilege, grantable); no row
// means the object does not exist.
func readObject(ctx context.Context, conn *pgx.Conn, what, query, name string, spec Spec) (objectFacts, error) {
	f := objectFacts{Grants: map[string]privileges{}}
	rows, _ := conn.Query(ctx, query, name, spec.Owner.Name, spec.Runtime.Name)
	var grantee, privilege *string
	var grantable *bool
	_, err := pgx.ForEachRow(rows, []any{&f.Owner, &grantee, &privilege, &grantable}, func() error {
		f.Exists = true
		if grantee != nil && privilege != nil {
			addGrant(f.Grants, *grantee, *privilege, grantable != nil && *grantable)
		}
		return nil
	})
	if err != nil {
		return f, fmt.Errorf("reading %s: %w", what, err)
	}
	return f, nil
}

// readTables reads, for every table, view and foreign table of the schema,
// the privileges of the runtime role and of PUBLIC on it and on its columns.
func readTables(ctx context.Context, conn *pgx.Conn, spec Spec) ([]tableFacts, error) {
	rows, _ := conn.Query(ctx, `WITH grantee AS (
			SELECT 0::oid AS oid, '`+PublicGrantee+`'::text AS name
			UNION ALL SELECT oid, rolname::text FROM pg_catalog.pg_roles WHERE rolname = $2),
		rel AS (
			SELECT c.oid, c.relname::text AS name, c.relacl,
				ARRAY(SELECT att.attname::text FROM pg_catalog.pg_attribute att
					WHERE att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped ORDER BY att.attnum) AS columns
			FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')),
		acl AS (
			SELECT rel.oid, g.name, a.privilege_type, a.is_grantable, false AS on_column
			FROM rel CROSS JOIN LATERAL pg_catalog.aclexplode(rel.relacl) a
			JOIN grantee g ON g.oid = a.grantee
			UNION ALL
			SELECT rel.oid, g.name, a.privilege_type || '(' || att.attname || ')', a.is_grantable, true
			FROM rel JOIN pg_catalog.pg_attribute att
				ON att.attrelid = rel.oid AND att.attnum > 0 AND NOT att.attisdropped
			CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
			JOIN grantee g ON g.oid = a.grantee)
		SELECT rel.name, rel.columns, acl.name, acl.privilege_type, coalesce(acl.is_grantable, false), coalesce(acl.on_column, false)
		FROM rel LEFT JOIN acl ON acl.oid = rel.oid ORDER BY 1`, spec.Schema, spec.Runtime.Name)
	var tables []tableFacts
	var name string
	var columns []string
	var grantee, privilege *string
	var grantable, onColumn bool
	_, err := pgx.ForEachRow(rows, []any{&name, &columns, &grantee, &privilege, &grantable, &onColumn}, func() error {
		if len(tables) == 0 || tables[len(tables)-1].Name != name {
			tables = append(tables, tableFacts{Name: name, Columns: columns,
				Grants: map[string]privileges{}, ColumnGrants: map[string]privileges{}})
		}
		t := &tables[len(tables)-1]
		if grantee != nil && privilege != nil {
			target := t.Grants
			if onColumn {
				target = t.ColumnGrants
			}
			addGrant(target, *grantee, *privilege, grantable)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the tables of schema %s: %w", spec.Schema, err)
	}
	return tables, nil
}

// addGrant records that grantee holds privilege in m.
func addGrant(m map[string]privileges, grantee, privilege string, grantable bool) {
	if m[grantee] == nil {
		m[grantee] = privileges{}
	}
	m[grantee][privilege] = m[grantee][privilege] || grantable
}
