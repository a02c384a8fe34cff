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

// Package audittest plays, for tests, the attacks on an audit log that its
// witness exists to reveal.
package audittest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// RewriteAsOwner does what the database owner can do to org's chain: turn
// the append-only trigger off, edit entry 1, recompute the hash of every
// entry up to seq with the database's own function, and turn the trigger
// on again. The chain then verifies on its own.
func RewriteAsOwner(tb testing.TB, ownerURL string, org uuid.UUID, seq int64) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		tb.Fatalf("connecting as the owner: %v", err)
	}
	defer conn.Close(ctx)
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, sql := range []string{
			"SELECT set_config('rekomi.org_id', '" + org.String() + "', true)",
			"ALTER TABLE audit_log DISABLE TRIGGER USER",
			"UPDATE audit_log SET actor_id = 'someone-else' WHERE seq = 1",
		} {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
		}
		prev := make([]byte, 32)
		for s := int64(1); s <= seq; s++ {
			if err := tx.QueryRow(ctx, `UPDATE audit_log a SET prev_hash = $1, hash = rekomi_audit_entry_hash($1, a)
				WHERE seq = $2 RETURNING hash`, prev, s).Scan(&prev); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "ALTER TABLE audit_log ENABLE TRIGGER USER")
		return err
	})
	if err != nil {
		tb.Fatalf("rewriting the audit chain of %s as the owner: %v", org, err)
	}
}
