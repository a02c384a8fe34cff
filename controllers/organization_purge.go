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

package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// keptTables hold an organization's rows that outlive its purge.
var keptTables = []string{"audit_log"}

// dataKeyTable holds the organization's data key, under which the personal
// fields of its audit entries are sealed. Purge deletes it last, under the
// organization's audit lock (the lock a new key's insert takes), so a key
// created by a transaction still running is deleted too once it commits,
// and none can be created after: the kept entries' personal fields can
// then be opened by no one.
const dataKeyTable = "org_data_keys"

// tombstones are the kinds of routing keys a purge keeps, so that no other
// organization can ever claim them: a link code shared in the world would
// otherwise send its visitors to whoever took it next, and an API key
// prefix could come back to life. Webhook endpoint ids, which only the
// operator draws, are deleted with their endpoints.
var tombstones = []string{"link_code", "api_key_prefix"}

// purgeCondition narrows the purge of a table beyond its organization.
var purgeCondition = map[string]string{
	"route_keys": "kind <> ALL ($2)",
}

// purgeTablesSQL finds the tables to purge: every table of the schema with a
// tenant column (partitions are reached through their parent).
const purgeTablesSQL = `
SELECT c.relname
FROM pg_catalog.pg_class c
WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND a.attnum > 0 AND NOT a.attisdropped)
ORDER BY c.relname`

// foreignKeysSQL lists which table references which in the schema.
const foreignKeysSQL = `
SELECT child.relname, parent.relname
FROM pg_catalog.pg_constraint k
JOIN pg_catalog.pg_class child ON child.oid = k.conrelid
JOIN pg_catalog.pg_class parent ON parent.oid = k.confrelid
WHERE k.contype = 'f'
  AND child.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())
ORDER BY 1, 2`

// foreignKey says that child has a foreign key to parent.
type foreignKey struct{ child, parent string }

// deleteOrder orders tables so that every table comes before the tables it
// references: deleting in that order never trips a foreign key. References
// to tables outside the list, and of a table to itself, do not constrain
// the order. Ties go alphabetically, so the order is stable.
func deleteOrder(tables []string, keys []foreignKey) ([]string, error) {
	pending := map[string]bool{}
	for _, t := range tables {
		pending[t] = true
	}
	// referencedBy[p] counts the pending tables with a key to p.
	keys = dedupe(keys)
	referencedBy := map[string]int{}
	for _, k := range keys {
		if k.child != k.parent && pending[k.child] && pending[k.parent] {
			referencedBy[k.parent]++
		}
	}
	var order []string
	for len(pending) > 0 {
		var ready []string
		for t := range pending {
			if referencedBy[t] == 0 {
				ready = append(ready, t)
			}
		}
		if len(ready) == 0 {
			left := slices.Sorted(maps.Keys(pending))
			return nil, fmt.Errorf("foreign keys form a cycle among tables %s", strings.Join(left, ", "))
		}
		slices.Sort(ready)
		next := ready[0]
		order = append(order, next)
		delete(pending, next)
		for _, k := range keys {
			if k.child == next && k.parent != next && pending[k.parent] {
				referencedBy[k.parent]--
			}
		}
	}
	return order, nil
}

// dedupe drops repeated keys: two constraints between the same tables
// constrain the order once.
func dedupe(keys []foreignKey) []foreignKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b foreignKey) int {
		return strings.Compare(a.child+"\x00"+a.parent, b.child+"\x00"+b.parent)
	})
	return slices.Compact(out)
}

// purgeTables reads the tables to purge from the catalog, in delete order.
func purgeTables(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, purgeTablesSQL)
	if err != nil {
		return nil, fmt.Errorf("reading tenant tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading tenant tables: %w", err)
	}
	tables = slices.DeleteFunc(tables, func(t string) bool { return slices.Contains(keptTables, t) })
	hasKeys := slices.Contains(tables, dataKeyTable)
	tables = slices.DeleteFunc(tables, func(t string) bool { return t == dataKeyTable })
	rows, err = tx.Query(ctx, foreignKeysSQL)
	if err != nil {
		return nil, fmt.Errorf("reading foreign keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (foreignKey, error) {
		var k foreignKey
		err := row.Scan(&k.child, &k.parent)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading foreign keys: %w", err)
	}
	order, err := deleteOrder(tables, keys)
	if err != nil || !hasKeys {
		return order, err
	}
	return append(order, dataKeyTable), nil // nothing references it
}

// lockAuditChain takes the organization's audit lock until tx ends, as the
// chain trigger and a data key's insert do.
func lockAuditChain(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('audit_log'), hashtext($1::text))", id); err != nil {
		return fmt.Errorf("locking the audit log: %w", db.MapError(err))
	}
	return nil
}

// purge deletes every tenant row of the organization except its audit log,
// marks its row purged and audits it, in one transaction.
func (r *OrganizationReconciler) purge(ctx context.Context, org *rekomiv1.Organization, pool *db.DB, id uuid.UUID, now time.Time) error {
	err := pool.TenantTx(ctx, id, func(tx pgx.Tx) error {
		tables, err := purgeTables(ctx, tx)
		if err != nil {
			return err
		}
		deleted := map[string]int64{}
		for _, t := range tables {
			if t == dataKeyTable {
				if err := lockAuditChain(ctx, tx, id); err != nil {
					return err
				}
			}
			sql, args := "DELETE FROM "+pgx.Identifier{t}.Sanitize()+" WHERE org_id = $1", []any{id}
			if cond, ok := purgeCondition[t]; ok {
				sql, args = sql+" AND "+cond, append(args, tombstones)
			}
			tag, err := tx.Exec(ctx, sql, args...)
			if err != nil {
				return fmt.Errorf("deleting the rows of %s: %w", t, db.MapError(err))
			}
			deleted[t] = tag.RowsAffected()
		}
		var kept int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM route_keys WHERE org_id = $1", id).Scan(&kept); err != nil {
			return fmt.Errorf("counting the routing keys kept: %w", db.MapError(err))
		}
		if _, err := tx.Exec(ctx, "UPDATE organizations SET status = $2, purge_at = $3, updated_at = now() WHERE id = $1",
			id, orgPurged, now); err != nil {
			return fmt.Errorf("marking the organization purged: %w", db.MapError(err))
		}
		if purgeNowRequested(org) {
			if _, err := audit.Append(ctx, tx, id, audit.Entry{
				ActorType: audit.ActorAdmin, ActorID: "kubernetes", Action: actionAdminOverride,
				TargetType: "organization", TargetID: id.String(),
				Metadata: map[string]any{"annotation": PurgeNowAnnotation, "override": "purge before the end of the grace period",
					"organization": org.Name, "field_manager": annotationManager(org, PurgeNowAnnotation)},
			}); err != nil {
				return err
			}
		}
		_, err = audit.Append(ctx, tx, id, operatorEntry(actionPurged, "organization", id.String(),
			map[string]any{"deleted_rows": deleted, "kept_tables": keptTables, "tombstoned_route_keys": kept, "tombstoned_kinds": tombstones,
				"data_key": dataKeyFate(deleted[dataKeyTable])}))
		return err
	})
	if err != nil {
		return fmt.Errorf("purging organization %s: %w", org.Name, err)
	}
	return nil
}

// dataKeyFate says in the purge's audit entry what became of the data key:
// "destroyed", or "none" when the organization never sealed a field.
func dataKeyFate(deleted int64) string {
	if deleted > 0 {
		return "destroyed"
	}
	return "none"
}

// annotationManager names the field manager that set annotation on org (such
// as kubectl-annotate), as the API server recorded it; "unknown" when none did.
func annotationManager(org *rekomiv1.Organization, annotation string) string {
	field := `"f:` + annotation + `"`
	for _, mf := range org.ManagedFields {
		if mf.FieldsV1 != nil && strings.Contains(string(mf.FieldsV1.Raw), field) {
			return mf.Manager
		}
	}
	return "unknown"
}
