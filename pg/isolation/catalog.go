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

	"github.com/jackc/pgx/v5"
)

// Every query reads only catalogs and views that PUBLIC may read, so that the
// runtime role can verify its own database. Names arrive as parameters; no
// statement is built from strings.

// tablesSQL finds the tenant tables: ordinary and partitioned tables (and
// partitions, which policies of their parent do not cover) with a tenant
// column, plus the organizations table.
const tablesSQL = `
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_catalog.pg_get_userbyid(c.relowner)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
  AND c.relkind IN ('r', 'p')
  AND (c.relname = $2 OR EXISTS (
        SELECT FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped))
ORDER BY c.relname`

// policiesSQL lists the policies of the schema's tables. pg_policies shows
// the expressions as pg_get_expr deparses them, NULL when absent.
const policiesSQL = `
SELECT tablename, policyname, permissive = 'PERMISSIVE', cmd, roles::text[],
       coalesce(qual, ''), coalesce(with_check, '')
FROM pg_catalog.pg_policies
WHERE schemaname = $1
ORDER BY tablename, policyname`

// indexesSQL gives the first column of every valid index of the schema's
// tables; expression indexes (indkey[0] = 0) have none.
const indexesSQL = `
SELECT c.relname, a.attname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE n.nspname = $1 AND i.indisvalid
ORDER BY c.relname, a.attname`

// grantsSQL lists the privileges granted on the schema's tables and on
// their columns, by grantee (PUBLIC for the pseudo-role).
const grantsSQL = `
WITH acl(relname, acl) AS (
    SELECT c.relname, c.relacl
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relacl IS NOT NULL
  UNION ALL
    SELECT c.relname, a.attacl
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attacl IS NOT NULL AND NOT a.attisdropped
)
SELECT DISTINCT acl.relname,
       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(e.grantee) END,
       e.privilege_type
FROM acl CROSS JOIN LATERAL pg_catalog.aclexplode(acl.acl) e
ORDER BY 1, 2, 3`

// roleSQL reads the runtime role's attributes (pg_roles, not pg_authid).
const roleSQL = `
SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb
FROM pg_catalog.pg_roles
WHERE rolname = $1`

// membershipsSQL lists every role the runtime role belongs to, directly or
// through other roles, whatever the INHERIT setting: membership alone allows
// SET ROLE.
const membershipsSQL = `
WITH RECURSIVE memberships(roleid) AS (
    SELECT m.roleid
    FROM pg_catalog.pg_auth_members m
    JOIN pg_catalog.pg_roles r ON r.oid = m.member
    WHERE r.rolname = $1
  UNION
    SELECT m.roleid
    FROM pg_catalog.pg_auth_members m
    JOIN memberships s ON m.member = s.roleid
)
SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb
FROM memberships s
JOIN pg_catalog.pg_roles r ON r.oid = s.roleid
ORDER BY r.rolname`

// definersSQL lists the schema's SECURITY DEFINER functions and procedures
// by signature.
const definersSQL = `
SELECT p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND p.prosecdef
ORDER BY 1`

// viewsSQL lists the schema's views and materialized views with their
// security_invoker option (absent means false).
const viewsSQL = `
SELECT c.relname, c.relkind = 'm',
       coalesce((SELECT o.option_value::bool
                 FROM pg_catalog.pg_options_to_table(c.reloptions) o
                 WHERE o.option_name = 'security_invoker'), false)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
ORDER BY c.relname`

// readCatalog gathers every fact the rules look at.
func readCatalog(ctx context.Context, q Querier, schema, runtimeRole string) (catalog, error) {
	var cat catalog
	var err error
	if cat.tables, err = readTables(ctx, q, schema); err != nil {
		return cat, err
	}
	if cat.role, err = readRole(ctx, q, runtimeRole); err != nil {
		return cat, err
	}
	if cat.role != nil {
		if cat.memberOf, err = collect(ctx, q, scanRole, membershipsSQL, runtimeRole); err != nil {
			return cat, fmt.Errorf("reading memberships of the runtime role: %w", err)
		}
	}
	if cat.definers, err = collect(ctx, q, pgx.RowTo[string], definersSQL, schema); err != nil {
		return cat, fmt.Errorf("reading SECURITY DEFINER functions: %w", err)
	}
	if cat.views, err = collect(ctx, q, scanView, viewsSQL, schema); err != nil {
		return cat, fmt.Errorf("reading views: %w", err)
	}
	return cat, nil
}

// readTables reads the tenant tables with their policies, index leads and
// privileges.
func readTables(ctx context.Context, q Querier, schema string) ([]table, error) {
	tables, err := collect(ctx, q, func(row pgx.CollectableRow) (table, error) {
		var t table
		err := row.Scan(&t.name, &t.rlsEnabled, &t.rlsForced, &t.owner)
		return t, err
	}, tablesSQL, schema, organizationsTable, tenantColumn)
	if err != nil {
		return nil, fmt.Errorf("reading tenant tables: %w", err)
	}
	byName := make(map[string]*table, len(tables))
	for i := range tables {
		byName[tables[i].name] = &tables[i]
	}

	type tablePolicy struct {
		table string
		policy
	}
	policies, err := collect(ctx, q, func(row pgx.CollectableRow) (tablePolicy, error) {
		var p tablePolicy
		err := row.Scan(&p.table, &p.name, &p.permissive, &p.command, &p.roles, &p.using, &p.withCheck)
		return p, err
	}, policiesSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("reading policies: %w", err)
	}
	for _, p := range policies {
		if t, ok := byName[p.table]; ok {
			t.policies = append(t.policies, p.policy)
		}
	}

	type indexLead struct{ table, column string }
	leads, err := collect(ctx, q, func(row pgx.CollectableRow) (indexLead, error) {
		var l indexLead
		err := row.Scan(&l.table, &l.column)
		return l, err
	}, indexesSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("reading indexes: %w", err)
	}
	for _, l := range leads {
		if t, ok := byName[l.table]; ok {
			t.indexLeads = append(t.indexLeads, l.column)
		}
	}

	type tableGrant struct {
		table string
		grant
	}
	grants, err := collect(ctx, q, func(row pgx.CollectableRow) (tableGrant, error) {
		var g tableGrant
		err := row.Scan(&g.table, &g.grantee, &g.privilege)
		return g, err
	}, grantsSQL, schema)
	if err != nil {
		return nil, fmt.Errorf("reading table privileges: %w", err)
	}
	for _, g := range grants {
		if t, ok := byName[g.table]; ok {
			t.grants = append(t.grants, g.grant)
		}
	}
	return tables, nil
}

// readRole reads the runtime role, nil when it does not exist.
func readRole(ctx context.Context, q Querier, name string) (*role, error) {
	r := role{name: name}
	err := q.QueryRow(ctx, roleSQL, name).Scan(&r.superuser, &r.bypassRLS, &r.createRole, &r.createDB)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the runtime role: %w", err)
	}
	return &r, nil
}

func scanView(row pgx.CollectableRow) (view, error) {
	var v view
	err := row.Scan(&v.name, &v.materialized, &v.securityInvoker)
	return v, err
}

func scanRole(row pgx.CollectableRow) (role, error) {
	var r role
	err := row.Scan(&r.name, &r.superuser, &r.bypassRLS, &r.createRole, &r.createDB)
	return r, err
}

// collect runs sql with args and scans every row.
func collect[T any](ctx context.Context, q Querier, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}
