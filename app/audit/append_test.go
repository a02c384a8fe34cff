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
	"crypto/sha256"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

func TestAppend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("ChainsEntriesFromSeqOne", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		recs := b.appendN(t, org, 5)
		for i, r := range recs {
			require.Equal(t, int64(i+1), r.Seq)
			require.NotEqual(t, uuid.Nil, r.ID)
			require.False(t, r.OccurredAt.IsZero())
			require.Len(t, r.Hash, 32)
			if i == 0 {
				require.Equal(t, make([]byte, 32), r.PrevHash)
			} else {
				require.Equal(t, recs[i-1].Hash, r.PrevHash)
			}
		}
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)
		require.Equal(t, int64(5), v.Verified)
		require.Equal(t, recs[4].Hash, v.Head)
	})

	t.Run("HashIsTheCanonicalForm", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		rec := b.append(t, org, audit.Entry{
			ActorType: audit.ActorAPIKey, ActorID: "key-1", Action: "payout.dispatched",
			TargetType: "payout", TargetID: "p-1", IP: netip.MustParseAddr("192.0.2.1"),
			UserAgent: "curl/8", RequestID: "req-1", Metadata: map[string]any{"amount": 980},
			Personal: map[string]string{audit.FieldEmail: "ann@example.com"},
		})
		var personal []byte
		var index []string
		require.NoError(t, b.admin.QueryRow(ctx, `SELECT personal, ARRAY(SELECT encode(x, 'hex') FROM unnest(personal_index) x)
			FROM audit_log WHERE org_id = $1 AND seq = 1`, org).Scan(&personal, &index))
		require.Len(t, index, 2, "the IP address and the email are indexed")
		canonical := fmt.Sprintf(`["%s", 1, "%s", %d, "api_key", "key-1", "payout.dispatched", "payout", "p-1", `+
			`null, null, "req-1", {"amount": 980}, "%x", ["%s", "%s"]]`, org, rec.ID, rec.OccurredAt.UnixMicro(),
			personal, index[0], index[1])
		want := sha256.Sum256(append(make([]byte, 32), canonical...))
		require.Equal(t, want[:], rec.Hash, "a sealed entry's hash covers its sealed bytes and blind indexes")

		rec = b.append(t, org, audit.Entry{
			ActorType: audit.ActorSystem, ActorID: "billing", Action: "billing.event_received",
			TargetType: "event", TargetID: "evt_1",
		})
		canonical = fmt.Sprintf(`["%s", 2, "%s", %d, "system", "billing", "billing.event_received", "event", "evt_1", `+
			`null, null, null, {}]`, org, rec.ID, rec.OccurredAt.UnixMicro())
		want = sha256.Sum256(append(append([]byte{}, rec.PrevHash...), canonical...))
		require.Equal(t, want[:], rec.Hash)
	})

	t.Run("IgnoresClientSuppliedChainColumns", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			for range 2 {
				_, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, seq, actor_type, actor_id, action, target_type, target_id, prev_hash, hash)
					VALUES ($1, 42, 'system', 'test', 'campaign.created', 'campaign', 'c1', sha256('x'), sha256('y'))`, org)
				if err != nil {
					return err
				}
			}
			return nil
		}))
		require.Equal(t, oneTo(2), b.seqs(t, org))
		var first []byte
		require.NoError(t, b.admin.QueryRow(ctx, "SELECT prev_hash FROM audit_log WHERE org_id = $1 AND seq = 1", org).Scan(&first))
		require.Equal(t, make([]byte, 32), first)
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)
		require.Equal(t, int64(2), v.Verified)
	})

	t.Run("ChainsEveryRowOfOneStatement", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id)
				SELECT $1, 'system', 'import', 'affiliate.imported', 'affiliate', 'a' || i FROM generate_series(1, 3) i`, org)
			return err
		}))
		v := b.verify(t, org)
		require.True(t, v.OK(), v.Detail)
		require.Equal(t, int64(3), v.Verified)
	})

	t.Run("HashDoesNotDependOnTimeZoneOrDateStyle", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		inSession := func(settings string, fn func(tx pgx.Tx) error) {
			require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, settings); err != nil {
					return err
				}
				return fn(tx)
			}))
		}
		for i, settings := range []string{
			"SET LOCAL TimeZone = 'Pacific/Kiritimati'; SET LOCAL DateStyle = 'SQL, DMY'",
			"SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'",
		} {
			inSession(settings, func(tx pgx.Tx) error {
				_, err := audit.Append(ctx, tx, org, entry(i))
				return err
			})
		}
		inSession("SET LOCAL TimeZone = 'America/Adak'; SET LOCAL DateStyle = 'German'", func(tx pgx.Tx) error {
			v, err := audit.Verify(ctx, tx, org)
			if err != nil {
				return err
			}
			require.True(t, v.OK(), v.Detail)
			require.Equal(t, int64(2), v.Verified)
			return nil
		})
	})

	t.Run("RefusesAnotherOrganization", func(t *testing.T) {
		t.Parallel()
		own, other := b.newOrg(t), b.newOrg(t)
		err := b.app.TenantTx(ctx, own, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, other, entry(0))
			return err
		})
		require.ErrorIs(t, err, db.ErrForbidden)
		require.Empty(t, b.seqs(t, other))
	})

	t.Run("SerializesConcurrentAppendsPerOrganization", func(t *testing.T) {
		t.Parallel()
		orgs := []uuid.UUID{b.newOrg(t), b.newOrg(t)}
		const workers, each = 12, 10
		errs := make(chan error, workers*each)
		var wg sync.WaitGroup
		for w := range workers {
			org := orgs[w%len(orgs)]
			wg.Go(func() {
				for i := range each {
					errs <- b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
						_, err := audit.Append(ctx, tx, org, entry(w*each+i))
						return err
					})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		perOrg := workers * each / len(orgs)
		for _, org := range orgs {
			require.Equal(t, oneTo(perOrg), b.seqs(t, org))
			v := b.verify(t, org)
			require.True(t, v.OK(), v.Detail)
			require.Equal(t, int64(perOrg), v.Verified)
		}
	})
}
