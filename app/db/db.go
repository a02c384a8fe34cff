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

// Package db is the app's only path to PostgreSQL. Tenant data is reached
// through TenantTx alone, which sets the organization transaction-locally so
// row-level security filters every statement; handlers never see the pool.
// It also translates driver errors into the sentinels stores return, and
// runs the startup check that refuses a role able to bypass row-level
// security.
package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what store functions take, so that a caller can compose them inside
// one transaction (the audit entry and the change it records). pgx.Tx
// satisfies it.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DB is a pool of connections as the Region's runtime role.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to databaseURL and checks the server answers.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating connection pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s/%s as %s: %w",
			cfg.ConnConfig.Host, cfg.ConnConfig.Database, cfg.ConnConfig.User, err)
	}
	return &DB{pool: pool}, nil
}

// Close waits for connections in use and closes the pool.
func (d *DB) Close() { d.pool.Close() }

// Ping checks that the database answers (readiness).
func (d *DB) Ping(ctx context.Context) error { return d.pool.Ping(ctx) }

// Stat reports the pool's counters (for metrics).
func (d *DB) Stat() *pgxpool.Stat { return d.pool.Stat() }

// ErrNoTenant is returned when a tenant transaction is asked for without an
// organization.
var ErrNoTenant = errors.New("no organization given for a tenant transaction")

// TenantTx runs fn in a transaction whose every statement sees only orgID's
// rows. The organization is set with set_config(..., true), so it ends with
// the transaction and never leaks to the next user of the connection. fn's
// error, or a failed commit, rolls everything back.
func (d *DB) TenantTx(ctx context.Context, orgID uuid.UUID, fn func(pgx.Tx) error) error {
	if orgID == uuid.Nil {
		return ErrNoTenant
	}
	return d.tx(ctx, pgx.TxOptions{BeginQuery: beginTenant("BEGIN", orgID)}, fn)
}

// TenantSnapshotTx is TenantTx for a long read: the transaction is read
// only and every statement sees the same snapshot (REPEATABLE READ), so a
// multi-table read is consistent however long it takes.
func (d *DB) TenantSnapshotTx(ctx context.Context, orgID uuid.UUID, fn func(pgx.Tx) error) error {
	if orgID == uuid.Nil {
		return ErrNoTenant
	}
	opts := pgx.TxOptions{BeginQuery: beginTenant("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", orgID)}
	return d.tx(ctx, opts, fn)
}

// beginTenant is the query that starts a tenant transaction with begin and
// sets orgID as its organization, sent as one simple-protocol query so that
// it costs one round trip. The organization is part of the text rather than
// a parameter (the simple protocol has none): a uuid.UUID prints as 36
// characters of hex digits and dashes only, which need no quoting.
func beginTenant(begin string, orgID uuid.UUID) string {
	return begin + "; SELECT set_config('rekomi.org_id', '" + orgID.String() + "', true)"
}

// PublicTx runs fn in a transaction with no organization set: row-level
// security then shows no tenant's rows. Lookups made before the tenant is
// known go through LookupRoute.
func (d *DB) PublicTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return d.tx(ctx, pgx.TxOptions{}, fn)
}

// RouteKind is what a routing key resolves to.
type RouteKind string

// The kinds of routing keys: the public parts of a referral link's URL, a
// webhook endpoint's URL and an API key.
const (
	RouteLinkCode        RouteKind = "link_code"
	RouteWebhookEndpoint RouteKind = "webhook_endpoint"
	RouteAPIKeyPrefix    RouteKind = "api_key_prefix"
)

// ErrNoRoute means no routing key of that kind and value exists.
var ErrNoRoute = errors.New("no such routing key")

// LookupRoute resolves a routing key to its organization and target before
// the tenant is known, in one statement (rekomi_route_lookup). Row-level
// security shows a routing row only to a lookup that names its exact key,
// so the runtime role resolves the keys it is given and can list none.
func (d *DB) LookupRoute(ctx context.Context, kind RouteKind, key string) (orgID, targetID uuid.UUID, err error) {
	err = d.pool.QueryRow(ctx, "SELECT org_id, target_id FROM rekomi_route_lookup($1, $2)", string(kind), key).Scan(&orgID, &targetID)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, uuid.Nil, ErrNoRoute
	}
	if err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("looking up %s %q: %w", kind, key, err)
	}
	return orgID, targetID, nil
}

func (d *DB) tx(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) (err error) {
	tx, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// fn failed, panicked or ended its goroutine, or the commit failed:
		// roll back, which also gives the connection back to the pool, even
		// when ctx is what failed.
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			err = errors.Join(err, fmt.Errorf("rolling back: %w", rbErr))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	committed = true
	return nil
}
