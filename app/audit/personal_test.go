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
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
)

// Seeded personal values: none of them may appear in a stored column.
const (
	seedIP    = "203.0.113.77"
	seedUA    = "SeedAgent/7.1 (personal)"
	seedEmail = "Zed.Seed@Example.org"
	seedURL   = "https://seed.example/landing?ref=zz"
)

// personalEntry is an entry that records every kind of personal field.
func personalEntry(target string) audit.Entry {
	return audit.Entry{
		ActorType: audit.ActorAPIKey, ActorID: "key-1", Action: "affiliate.invited",
		TargetType: "affiliate", TargetID: target, IP: netip.MustParseAddr(seedIP), UserAgent: seedUA,
		Metadata: map[string]any{"campaign_id": "c-1"},
		Personal: map[string]string{audit.FieldEmail: seedEmail, audit.FieldDestinationURL: seedURL},
	}
}

// rowText is every row of table for org as PostgreSQL prints it, read as
// the admin.
func (b *bundle) rowText(t *testing.T, table string, org uuid.UUID) string {
	t.Helper()
	rows, err := b.admin.Query(context.Background(), `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t WHERE t.org_id = $1`, org)
	require.NoError(t, err)
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return strings.Join(texts, "\n")
}

// index reads the blind indexes of org's entry seq.
func (b *bundle) index(t *testing.T, org uuid.UUID, seq int64) [][]byte {
	t.Helper()
	var index [][]byte
	require.NoError(t, b.admin.QueryRow(context.Background(), `SELECT personal_index FROM audit_log WHERE org_id = $1 AND seq = $2`,
		org, seq).Scan(&index))
	return index
}

func TestSealedPersonalFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("NoPlaintextInAnyColumn", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		rec := b.append(t, org, personalEntry("a-1"))
		stored := strings.ToLower(b.rowText(t, "audit_log", org) + b.rowText(t, "org_data_keys", org))
		for _, v := range []string{seedIP, seedUA, seedEmail, seedURL, "seed.example", "zed.seed"} {
			require.NotContains(t, stored, strings.ToLower(v))
		}
		p, err := b.opened(t, org, rec.Seq)
		require.NoError(t, err)
		require.Equal(t, audit.Personal{IP: netip.MustParseAddr(seedIP), UserAgent: seedUA,
			Fields: map[string]string{audit.FieldEmail: seedEmail, audit.FieldDestinationURL: seedURL}}, p)
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)
	})

	t.Run("SealedFieldsOpenOnlyForTheirEntry", func(t *testing.T) {
		t.Parallel()
		org, other := b.newOrg(t), b.newOrg(t)
		b.append(t, org, personalEntry("a-1"))
		b.append(t, other, personalEntry("a-1"))
		var sealed []byte
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT personal FROM audit_log WHERE org_id = $1 AND seq = 1`, org).Scan(&sealed))
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			key, err := b.sealer.Key(ctx, tx, org)
			require.NoError(t, err)
			_, err = key.Open("affiliate.invited", "affiliate", "a-1", sealed)
			require.NoError(t, err)
			_, err = key.Open("affiliate.invited", "affiliate", "a-2", sealed)
			require.Error(t, err, "moved to another target")
			_, err = key.Open("affiliate.approved", "affiliate", "a-1", sealed)
			require.Error(t, err, "moved to another action")
			return nil
		}))
		require.NoError(t, b.app.TenantTx(ctx, other, func(tx pgx.Tx) error {
			key, err := b.sealer.Key(ctx, tx, other)
			require.NoError(t, err)
			_, err = key.Open("affiliate.invited", "affiliate", "a-1", sealed)
			require.Error(t, err, "another organization's key")
			return nil
		}))
	})

	t.Run("BlindIndexesFindTheValueAndDifferBetweenOrganizations", func(t *testing.T) {
		t.Parallel()
		org, other := b.newOrg(t), b.newOrg(t)
		b.append(t, org, personalEntry("a-1"))
		b.append(t, other, personalEntry("a-1"))
		mine, theirs := b.index(t, org, 1), b.index(t, other, 1)
		require.Len(t, mine, 3, "IP address, email and URL")
		for _, x := range mine {
			require.NotContains(t, theirs, x, "the same value is indexed under another key in another organization")
		}
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			key, err := b.sealer.Key(ctx, tx, org)
			require.NoError(t, err)
			require.Contains(t, mine, key.Index(audit.FieldEmail, "  zed.seed@EXAMPLE.org "), "emails are trimmed and lower-cased")
			require.Contains(t, mine, key.Index(audit.FieldIP, "::ffff:"+seedIP), "IP addresses are canonical")
			require.Contains(t, mine, key.Index(audit.FieldDestinationURL, seedURL))
			require.NotContains(t, mine, key.Index(audit.FieldDestinationURL, strings.ToUpper(seedURL)), "URLs match as stored")
			require.NotContains(t, mine, key.Index(audit.FieldEmailWas, seedEmail), "the field name is part of the index")
			return nil
		}))
	})

	t.Run("ADeletedKeyErasesTheFieldsButNotTheChain", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.append(t, org, personalEntry("a-1"))
		_, err := b.opened(t, org, 1)
		require.NoError(t, err)
		_, err = b.admin.Exec(ctx, `DELETE FROM org_data_keys WHERE org_id = $1`, org)
		require.NoError(t, err)
		_, err = b.opened(t, org, 1)
		require.ErrorIs(t, err, audit.ErrErased)
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			key, err := b.sealer.Key(ctx, tx, org)
			require.Nil(t, key, "a Sealer that held the key in memory finds it gone")
			return err
		}))
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)

		b.append(t, org, personalEntry("a-2")) // a new key
		_, err = b.opened(t, org, 1)
		require.Error(t, err, "the new key does not open what the old one sealed")
		require.False(t, errors.Is(err, audit.ErrErased))
		_, err = b.opened(t, org, 2)
		require.NoError(t, err)
	})

	t.Run("AKeyFromARolledBackTransactionIsNeverUsed", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		sealer := audit.NewSealer(b.ring, 0)
		errRollback := errors.New("the change failed")
		err := b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			if _, err := sealer.Append(ctx, tx, org, personalEntry("a-1")); err != nil {
				return err
			}
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := sealer.Append(ctx, sp, org, personalEntry("a-2")); err != nil {
				return err
			}
			if err := sp.Rollback(ctx); err != nil {
				return err
			}
			_, err = sealer.Append(ctx, tx, org, personalEntry("a-3"))
			return err
		}))
		for range 2 {
			require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
				_, err := sealer.Append(ctx, tx, org, personalEntry("a-4"))
				return err
			}))
		}
		require.Equal(t, oneTo(3), b.seqs(t, org))
		for seq := int64(1); seq <= 3; seq++ {
			_, err := b.opened(t, org, seq)
			require.NoError(t, err, "entry %d opens with the stored key", seq)
		}
	})

	t.Run("ConcurrentFirstUsesAgreeOnOneKey", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		const replicas = 6
		var wg sync.WaitGroup
		errs := make(chan error, replicas)
		for range replicas {
			sealer := audit.NewSealer(b.ring, 0)
			wg.Go(func() {
				errs <- b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
					_, err := sealer.Append(ctx, tx, org, personalEntry("a-1"))
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		for seq := int64(1); seq <= replicas; seq++ {
			_, err := b.opened(t, org, seq)
			require.NoError(t, err, "entry %d opens with the stored key", seq)
		}
	})

	t.Run("AnEntryWithoutPersonalFieldsNeedsNoKey", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.append(t, org, entry(1))
		require.Empty(t, b.rowText(t, "org_data_keys", org))
		var personal []byte
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT personal FROM audit_log WHERE org_id = $1`, org).Scan(&personal))
		require.Nil(t, personal)
	})
}
