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

package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Page asks for at most Limit objects, newest first, starting after the
// object StartingAfter (nil: from the newest). Lists are keyset-paged on
// (created_at, id), so a page is stable while objects are added.
type Page struct {
	Limit         int
	StartingAfter *uuid.UUID
}

// List is one page of objects; HasMore says whether another page follows.
type List[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

// Query names what a list reads: the columns of table, the rows the
// extra condition Where keeps (SQL over $4 onwards; "" keeps all), each
// decoded by Scan.
type Query[T any] struct {
	Table, Columns, Where string
	Scan                  func(pgx.Row) (T, error)
}

// ListPage reads one page of q's rows of org in tx, newest first; args
// are Where's parameters, $4 onwards. The org_id condition stands beside
// row-level security, not in place of it.
func ListPage[T any](ctx context.Context, tx pgx.Tx, org uuid.UUID, q Query[T], p Page, args ...any) (List[T], error) {
	table := pgx.Identifier{q.Table}.Sanitize()
	where := "true"
	if q.Where != "" {
		where = q.Where
	}
	sql := `SELECT ` + q.Columns + ` FROM ` + table + ` WHERE org_id = $1 AND (` + where + `)
		AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM ` + table + ` WHERE org_id = $1 AND id = $2))
		ORDER BY created_at DESC, id DESC LIMIT $3`
	rows, err := tx.Query(ctx, sql, append([]any{org, p.StartingAfter, p.Limit + 1}, args...)...)
	if err != nil {
		return List[T]{}, fmt.Errorf("listing %s: %w", q.Table, db.MapError(err))
	}
	data, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return q.Scan(row) })
	if err != nil {
		return List[T]{}, fmt.Errorf("reading %s: %w", q.Table, db.MapError(err))
	}
	return NewList(data, p.Limit), nil
}

// NewList is the page of rows fetched as limit + 1: the extra row, if
// any, only says that more follow.
func NewList[T any](rows []T, limit int) List[T] {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return List[T]{Object: "list", Data: rows, HasMore: more}
}

// Get reads the row of q's table with id, or db.ErrNotFound.
func Get[T any](ctx context.Context, tx pgx.Tx, org uuid.UUID, q Query[T], id uuid.UUID) (T, error) {
	return q.Scan(tx.QueryRow(ctx, `SELECT `+q.Columns+` FROM `+pgx.Identifier{q.Table}.Sanitize()+
		` WHERE org_id = $1 AND id = $2`, org, id))
}
