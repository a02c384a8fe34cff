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
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/audit/audittest"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
)

var witnessEpoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return key
}

func checkpoint(seq int64, b byte) audit.Checkpoint {
	h := make([]byte, 32)
	h[0] = b
	return audit.Checkpoint{Seq: seq, Hash: h, At: witnessEpoch.Add(time.Duration(seq) * time.Minute)}
}

func TestWitnessSignature(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	w := audit.Witness{OrgID: uuid.New()}
	var err error
	for seq := int64(1); seq <= 6; seq++ {
		w, err = w.Witnessed(checkpoint(seq*10, byte(seq)), 4, key)
		require.NoError(t, err)
	}
	require.NoError(t, w.Verify(pub))
	var seqs []int64
	for _, c := range w.Checkpoints {
		seqs = append(seqs, c.Seq)
	}
	require.Equal(t, []int64{10, 40, 50, 60}, seqs, "the first checkpoint and the newest others are kept")

	_, err = w.Witnessed(checkpoint(60, 9), 4, key)
	require.ErrorContains(t, err, "already witnessed", "a witness only moves forward")

	for name, tamper := range map[string]func(*audit.Witness){
		"ACheckpointHash":     func(w *audit.Witness) { w.Checkpoints[0].Hash[5] ^= 1 },
		"ACheckpointTime":     func(w *audit.Witness) { w.Checkpoints[1].At = w.Checkpoints[1].At.Add(time.Second) },
		"AnOlderHeadReplayed": func(w *audit.Witness) { w.Checkpoints = w.Checkpoints[:3] },
		"TheOrganization":     func(w *audit.Witness) { w.OrgID = uuid.New() },
	} {
		t.Run("RefusesAChangedWitness/"+name, func(t *testing.T) {
			t.Parallel()
			changed := w
			changed.Checkpoints = make([]audit.Checkpoint, len(w.Checkpoints))
			for i, c := range w.Checkpoints {
				c.Hash = append([]byte(nil), c.Hash...)
				changed.Checkpoints[i] = c
			}
			tamper(&changed)
			require.ErrorIs(t, changed.Verify(pub), audit.ErrBadWitness)
		})
	}
	t.Run("RefusesAnotherKey", func(t *testing.T) {
		t.Parallel()
		require.ErrorIs(t, w.Verify(newKey(t).Public().(ed25519.PublicKey)), audit.ErrBadWitness)
	})
}

// TestWitnessRevealsARewrittenChain plays the database owner: it disables
// the append-only trigger, edits the first entry, recomputes every hash
// after it with the database's own function and enables the trigger again.
// The chain then verifies on its own; the witness taken before reports
// seq 1.
func TestWitnessRevealsARewrittenChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	region := regiondb.New(t, dbtest.Start(t))
	app, err := db.Open(ctx, region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(app.Close)
	org := uuid.New()
	dbtest.Exec(t, region.AdminURL, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, org, "org-"+org.String()[:8])

	key := newKey(t)
	w := audit.Witness{OrgID: org}
	witness := func() {
		t.Helper()
		var v audit.Verification
		require.NoError(t, app.TenantTx(ctx, org, func(tx pgx.Tx) (err error) {
			v, err = audit.Verify(ctx, tx, org)
			return err
		}))
		require.True(t, v.OK())
		w, err = w.Witnessed(audit.Checkpoint{Seq: v.Verified, Hash: v.Head, At: time.Now()}, 10, key)
		require.NoError(t, err)
	}
	appendEntry := func(i int) {
		t.Helper()
		require.NoError(t, app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, org, entry(i))
			return err
		}))
	}
	appendEntry(0)
	witness() // seq 1, as the operator does when it creates the organization
	for i := 1; i < 5; i++ {
		appendEntry(i)
	}
	witness() // seq 5

	audittest.RewriteAsOwner(t, region.OwnerURL, org, 5)

	var v audit.Verification
	var d *audit.Disagreement
	require.NoError(t, app.TenantTx(ctx, org, func(tx pgx.Tx) (err error) {
		if v, err = audit.Verify(ctx, tx, org); err != nil {
			return err
		}
		d, err = audit.CompareWitness(ctx, tx, w)
		return err
	}))
	require.True(t, v.OK(), "the rewritten chain verifies on its own")
	require.NoError(t, w.Verify(key.Public().(ed25519.PublicKey)))
	require.NotNil(t, d, "the witness disagrees")
	require.Equal(t, int64(1), d.FirstSeq)
	require.Equal(t, int64(1), d.WitnessedSeq)
	require.Contains(t, d.Detail, "entry 1 does not hold the hash witnessed at")

	later := audit.Witness{OrgID: org, Checkpoints: w.Checkpoints[1:]}
	require.NoError(t, app.TenantTx(ctx, org, func(tx pgx.Tx) (err error) {
		d, err = audit.CompareWitness(ctx, tx, later)
		return err
	}))
	require.Equal(t, int64(1), d.FirstSeq, "with seq 5 witnessed alone, any entry up to 5 may have changed")
	require.Equal(t, int64(5), d.WitnessedSeq)
	require.Contains(t, d.Detail, "an entry from 1 to 5 was changed after")
}

func TestVerifyAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org := b.newOrg(t)
	recs := b.appendN(t, org, 5)
	ctx := context.Background()
	var v audit.Verification
	require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) (err error) {
		v, err = audit.VerifyAfter(ctx, tx, org, audit.Checkpoint{Seq: 3, Hash: recs[2].Hash})
		return err
	}))
	require.True(t, v.OK())
	require.Equal(t, int64(5), v.Verified)
	require.Equal(t, recs[4].Hash, v.Head)

	require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) (err error) {
		v, err = audit.VerifyAfter(ctx, tx, org, audit.Checkpoint{Seq: 3, Hash: recs[1].Hash})
		return err
	}))
	require.False(t, v.OK(), "entry 4 does not follow another hash than entry 3's")
	require.Equal(t, int64(4), v.BrokenSeq)
	require.Equal(t, audit.ProblemLink, v.Problem)
}

func TestWitnessRevealsLostEntries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	org := b.newOrg(t)
	recs := b.appendN(t, org, 5)
	key := newKey(t)
	w, err := audit.Witness{OrgID: org}.Witnessed(audit.Checkpoint{Seq: 1, Hash: recs[0].Hash, At: witnessEpoch}, 11, key)
	require.NoError(t, err)
	w, err = w.Witnessed(audit.Checkpoint{Seq: 5, Hash: recs[4].Hash, At: witnessEpoch.Add(time.Minute)}, 11, key)
	require.NoError(t, err)

	b.tamper(t, "DELETE FROM audit_log WHERE org_id = $1 AND seq = 5", org)
	require.True(t, b.verify(t, org).OK(), "losing the newest entry leaves a chain that verifies")
	var d *audit.Disagreement
	require.NoError(t, b.app.TenantTx(context.Background(), org, func(tx pgx.Tx) (err error) {
		d, err = audit.CompareWitness(context.Background(), tx, w)
		return err
	}))
	require.NotNil(t, d)
	require.Equal(t, int64(2), d.FirstSeq)
	require.Equal(t, int64(5), d.WitnessedSeq)
	require.Contains(t, d.Detail, "entry 5, witnessed at 2026-12-01T09:01:00Z, is missing")
}
