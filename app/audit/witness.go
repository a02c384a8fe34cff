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

package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// A chain alone cannot show that it was rewritten whole: whoever may
// disable the append-only trigger (the database owner) can edit an entry
// and recompute every hash after it. A Witness keeps heads of the chain
// outside the database, signed with a key the database never holds, so
// that such a rewrite disagrees with the first head witnessed after the
// edited entry.

// Checkpoint is one witnessed head of an organization's chain.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash []byte    `json:"hash"`
	At   time.Time `json:"at"`
}

// Witness is what is kept of one organization's chain outside its
// database: checkpoints in increasing seq order, and a signature over them.
type Witness struct {
	OrgID       uuid.UUID    `json:"orgID"`
	Checkpoints []Checkpoint `json:"checkpoints"`
	// KeyID names the signing key: the first 8 bytes of the SHA-256 of its
	// public key, in hex.
	KeyID     string `json:"keyID"`
	Signature []byte `json:"signature"`
}

// ErrBadWitness means a witness is malformed or its signature does not
// verify with the given key.
var ErrBadWitness = errors.New("audit witness does not verify")

// witnessContext prefixes the signed bytes, so that a signature over a
// witness cannot be taken for one over anything else.
const witnessContext = "rekomi audit witness v1\n"

// signedBytes is the canonical form the signature covers.
func (w Witness) signedBytes() []byte {
	var b strings.Builder
	b.WriteString(witnessContext)
	b.WriteString(w.OrgID.String())
	b.WriteByte('\n')
	for _, c := range w.Checkpoints {
		b.WriteString(strconv.FormatInt(c.Seq, 10))
		b.WriteByte(' ')
		b.WriteString(hex.EncodeToString(c.Hash))
		b.WriteByte(' ')
		b.WriteString(c.At.UTC().Format(time.RFC3339Nano))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// KeyID is the id of the signing key whose public half is pub.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Witnessed returns w with cp added as its newest checkpoint, keeping the
// first checkpoint and the newest keep-1 others, signed with key. cp must
// come after w's newest checkpoint.
func (w Witness) Witnessed(cp Checkpoint, keep int, key ed25519.PrivateKey) (Witness, error) {
	if n := len(w.Checkpoints); n > 0 && cp.Seq <= w.Checkpoints[n-1].Seq {
		return w, fmt.Errorf("witnessing seq %d of organization %s: seq %d is already witnessed", cp.Seq, w.OrgID, w.Checkpoints[n-1].Seq)
	}
	if len(cp.Hash) != hashLength {
		return w, fmt.Errorf("witnessing seq %d of organization %s: a hash has %d bytes, not %d", cp.Seq, w.OrgID, len(cp.Hash), hashLength)
	}
	cps := append(slices.Clone(w.Checkpoints), cp)
	if keep < 2 {
		keep = 2
	}
	if len(cps) > keep {
		cps = append(cps[:1], cps[len(cps)-keep+1:]...)
	}
	out := Witness{OrgID: w.OrgID, Checkpoints: cps}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return w, errors.New("witnessing: the signing key is not Ed25519")
	}
	out.KeyID = KeyID(pub)
	out.Signature = ed25519.Sign(key, out.signedBytes())
	return out, nil
}

// Verify checks that w is well formed and signed by pub.
func (w Witness) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: the public key has %d bytes, not %d", ErrBadWitness, len(pub), ed25519.PublicKeySize)
	}
	if w.KeyID != KeyID(pub) {
		return fmt.Errorf("%w: signed by key %q, not %q", ErrBadWitness, w.KeyID, KeyID(pub))
	}
	for i, c := range w.Checkpoints {
		if c.Seq < 1 || len(c.Hash) != hashLength || (i > 0 && c.Seq <= w.Checkpoints[i-1].Seq) {
			return fmt.Errorf("%w: checkpoint %d (seq %d) is malformed or out of order", ErrBadWitness, i, c.Seq)
		}
	}
	if !ed25519.Verify(pub, w.signedBytes(), w.Signature) {
		return fmt.Errorf("%w: the signature does not match organization %s's checkpoints", ErrBadWitness, w.OrgID)
	}
	return nil
}

// Disagreement says where a stored chain departs from its witness.
type Disagreement struct {
	// FirstSeq is the first entry that may have been changed: the one after
	// the newest checkpoint that still agrees (1 when none does).
	FirstSeq int64
	// WitnessedSeq is the checkpoint that disagrees: its entry is missing
	// or holds another hash.
	WitnessedSeq int64
	// WitnessedAt is when that checkpoint was witnessed.
	WitnessedAt time.Time
	// Detail describes the disagreement for a person.
	Detail string
}

// VerifyAfter is Verify for the entries after cp, taking cp's entry as
// intact: what a witness that already checked the chain up to cp needs to
// check before it witnesses a newer head.
func VerifyAfter(ctx context.Context, q db.DBTX, orgID uuid.UUID, cp Checkpoint) (Verification, error) {
	return verifyFrom(ctx, q, orgID, Verification{Verified: cp.Seq, Head: cp.Hash})
}

const checkpointsSQL = `SELECT seq, hash FROM audit_log WHERE org_id = $1 AND seq = ANY ($2)`

// CompareWitness compares the stored chain of w.OrgID with w's checkpoints,
// oldest first, and returns the first disagreement, nil when every
// checkpoint agrees. Check the witness's signature first (Verify), and the
// chain's own integrity with Verify: a chain that agrees with its witness
// and verifies was not rewritten before its newest checkpoint.
func CompareWitness(ctx context.Context, q db.DBTX, w Witness) (*Disagreement, error) {
	seqs := make([]int64, len(w.Checkpoints))
	for i, c := range w.Checkpoints {
		seqs[i] = c.Seq
	}
	rows, err := q.Query(ctx, checkpointsSQL, w.OrgID, seqs)
	if err != nil {
		return nil, fmt.Errorf("reading the witnessed entries of organization %s: %w", w.OrgID, db.MapError(err))
	}
	stored := map[int64][]byte{}
	var seq int64
	var hash []byte
	if _, err := pgx.ForEachRow(rows, []any{&seq, &hash}, func() error {
		stored[seq] = hash
		return nil
	}); err != nil {
		return nil, fmt.Errorf("reading the witnessed entries of organization %s: %w", w.OrgID, db.MapError(err))
	}
	var agreed int64
	for _, c := range w.Checkpoints {
		h, ok := stored[c.Seq]
		switch {
		case !ok:
			return disagreement(agreed, c, fmt.Sprintf("entry %d, witnessed at %s, is missing", c.Seq, c.At.UTC().Format(time.RFC3339))), nil
		case !bytes.Equal(h, c.Hash):
			return disagreement(agreed, c, fmt.Sprintf("entry %d does not hold the hash witnessed at %s: %s",
				c.Seq, c.At.UTC().Format(time.RFC3339), changedSince(agreed, c.Seq))), nil
		}
		agreed = c.Seq
	}
	return nil, nil
}

// changedSince names the entries that may have been changed.
func changedSince(agreed, seq int64) string {
	if agreed+1 == seq {
		return fmt.Sprintf("entry %d was changed after", seq)
	}
	return fmt.Sprintf("an entry from %d to %d was changed after", agreed+1, seq)
}

func disagreement(agreed int64, c Checkpoint, detail string) *Disagreement {
	return &Disagreement{FirstSeq: agreed + 1, WitnessedSeq: c.Seq, WitnessedAt: c.At, Detail: detail}
}
