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

package audit_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/keyring"
)

// bundle is one migrated Region database, reached as the app and as the
// server's admin. Subtests share it and each makes its own organizations.
type bundle struct {
	app    *db.DB        // the runtime role, under row-level security
	admin  *pgxpool.Pool // bypasses row-level security: ground truth and tampering
	ring   *keyring.KeyRing
	sealer *audit.Sealer // seals with ring, as the app does
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	region := regiondb.New(t, dbtest.Start(t))
	app, err := db.Open(ctx, region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(app.Close)
	admin, err := pgxpool.New(ctx, region.AdminURL)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	return &bundle{app: app, admin: admin, ring: ring, sealer: audit.NewSealer(ring, 0)}
}

// newOrg creates an organization and returns its id.
func (b *bundle) newOrg(t *testing.T) uuid.UUID {
	t.Helper()
	id := uuid.New()
	name := "org-" + id.String()[:8]
	_, err := b.admin.Exec(context.Background(),
		`INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, id, name)
	require.NoError(t, err)
	return id
}

// entry is a valid entry whose target tells entries apart.
func entry(i int) audit.Entry {
	return audit.Entry{
		ActorType:  audit.ActorMember,
		ActorID:    "member-1",
		Action:     "campaign.created",
		TargetType: "campaign",
		TargetID:   fmt.Sprintf("campaign-%d", i),
		Metadata:   map[string]any{"n": i},
	}
}

// appendN appends n entries for org, each in its own tenant transaction.
func (b *bundle) appendN(t *testing.T, org uuid.UUID, n int) []audit.Record {
	t.Helper()
	recs := make([]audit.Record, 0, n)
	for i := range n {
		recs = append(recs, b.append(t, org, entry(i)))
	}
	return recs
}

func (b *bundle) append(t *testing.T, org uuid.UUID, e audit.Entry) audit.Record {
	t.Helper()
	var rec audit.Record
	require.NoError(t, b.app.TenantTx(context.Background(), org, func(tx pgx.Tx) (err error) {
		rec, err = b.sealer.Append(context.Background(), tx, org, e)
		return err
	}))
	return rec
}

// opened reads org's entry seq and opens its personal fields as the app
// does, with the key a new Sealer over the same ring finds.
func (b *bundle) opened(t *testing.T, org uuid.UUID, seq int64) (audit.Personal, error) {
	t.Helper()
	var p audit.Personal
	var openErr error
	require.NoError(t, b.app.TenantTx(context.Background(), org, func(tx pgx.Tx) error {
		key, err := audit.NewSealer(b.ring, 0).Key(context.Background(), tx, org)
		if err != nil {
			return err
		}
		var action, targetType, targetID string
		var sealed []byte
		if err := tx.QueryRow(context.Background(), `SELECT action, target_type, target_id, personal FROM audit_log
			WHERE org_id = $1 AND seq = $2`, org, seq).Scan(&action, &targetType, &targetID, &sealed); err != nil {
			return err
		}
		if key == nil {
			openErr = audit.ErrErased
			return nil
		}
		p, openErr = key.Open(action, targetType, targetID, sealed)
		return nil
	}))
	return p, openErr
}

// verify runs Verify as the app does, in a tenant transaction.
func (b *bundle) verify(t *testing.T, org uuid.UUID) audit.Verification {
	t.Helper()
	var v audit.Verification
	require.NoError(t, b.app.TenantTx(context.Background(), org, func(tx pgx.Tx) (err error) {
		v, err = audit.Verify(context.Background(), tx, org)
		return err
	}))
	return v
}

// tamper runs sql as the admin with user triggers off for its transaction,
// which only a superuser can do: the append-only trigger refuses everyone
// else.
func (b *bundle) tamper(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, b.admin, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("tampering changed %d rows, want 1", tag.RowsAffected())
		}
		return err
	}))
}

// seqs lists org's stored seq values in order, read as the admin.
func (b *bundle) seqs(t *testing.T, org uuid.UUID) []int64 {
	t.Helper()
	rows, err := b.admin.Query(context.Background(), "SELECT seq FROM audit_log WHERE org_id = $1 ORDER BY seq", org)
	require.NoError(t, err)
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return seqs
}

// oneTo returns 1..n.
func oneTo(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = int64(i + 1)
	}
	return s
}
