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
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Problem says how a chain is broken.
type Problem string

const (
	// ProblemGap: an entry is missing; seq does not count up by one from 1.
	ProblemGap Problem = "gap"
	// ProblemLink: an entry's prev_hash is not the hash of the entry before
	// it (32 zero bytes for the first).
	ProblemLink Problem = "link"
	// ProblemHash: an entry's hash does not match its contents.
	ProblemHash Problem = "hash"
)

// Verification is the outcome of walking one organization's chain.
type Verification struct {
	// Verified counts the intact entries from seq 1 on.
	Verified int64
	// Head is the hash of the last intact entry, nil when there is none.
	// Keeping it elsewhere is what reveals a rewrite of the whole chain or
	// the loss of its newest entries, which the chain alone cannot show.
	Head []byte
	// BrokenSeq is the first seq that is missing or fails its check; 0 when
	// the chain is intact.
	BrokenSeq int64
	// Problem says what is wrong at BrokenSeq; "" when the chain is intact.
	Problem Problem
	// Detail describes the problem for a person.
	Detail string
}

// OK reports whether the whole chain is intact.
func (v Verification) OK() bool { return v.Problem == "" }

// batchSize is how many entries Verify reads per query.
const batchSize = 1000

// hashLength is the size of a SHA-256 hash; the first entry's prev_hash is
// this many zero bytes.
const hashLength = 32

// link is one stored entry's chain columns and the hash the database
// recomputes from its contents.
type link struct {
	seq      int64
	prevHash []byte
	hash     []byte
	computed []byte
}

const linksSQL = `
SELECT a.seq, a.prev_hash, a.hash, rekomi_audit_entry_hash(a.prev_hash, a)
  FROM audit_log a
 WHERE a.org_id = $1 AND a.seq > $2
 ORDER BY a.seq
 LIMIT $3`

// Verify walks orgID's chain in seq order, in batches, and checks that seq
// starts at 1 without gaps, that each prev_hash is the previous entry's hash,
// and that each hash matches what rekomi_audit_entry_hash computes from the
// entry. A broken chain is reported in the Verification, not as an error;
// an error means the chain could not be read. q must see orgID's rows: a
// db.TenantTx for orgID, or a role that bypasses row-level security. Entries
// appended while Verify runs are verified too when they come in order.
func Verify(ctx context.Context, q db.DBTX, orgID uuid.UUID) (Verification, error) {
	return verifyFrom(ctx, q, orgID, Verification{})
}

// verifyFrom walks orgID's chain after v.Verified, taking v.Head as the hash
// of that entry.
func verifyFrom(ctx context.Context, q db.DBTX, orgID uuid.UUID, v Verification) (Verification, error) {
	if orgID == uuid.Nil {
		return Verification{}, fmt.Errorf("verifying the audit log: %w", db.ErrNoTenant)
	}
	for {
		links, err := readLinks(ctx, q, orgID, v.Verified)
		if err != nil {
			return Verification{}, err
		}
		for _, l := range links {
			if !v.check(l) {
				return v, nil
			}
		}
		if len(links) < batchSize {
			return v, nil
		}
	}
}

// readLinks reads up to batchSize entries after seq.
func readLinks(ctx context.Context, q db.DBTX, orgID uuid.UUID, after int64) ([]link, error) {
	rows, err := q.Query(ctx, linksSQL, orgID, after, batchSize)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log of organization %s after seq %d: %w", orgID, after, db.MapError(err))
	}
	links, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (link, error) {
		var l link
		err := row.Scan(&l.seq, &l.prevHash, &l.hash, &l.computed)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the audit log of organization %s after seq %d: %w", orgID, after, db.MapError(err))
	}
	return links, nil
}

// check extends v with l if l follows the intact chain so far, and records
// the break otherwise.
func (v *Verification) check(l link) bool {
	want, prev := v.Verified+1, v.Head
	if prev == nil {
		prev = make([]byte, hashLength)
	}
	switch {
	case l.seq != want:
		v.fail(want, ProblemGap, fmt.Sprintf("entry %d is missing: the next stored entry is %d", want, l.seq))
	case !bytes.Equal(l.prevHash, prev):
		v.fail(l.seq, ProblemLink, linkDetail(l.seq))
	case !bytes.Equal(l.hash, l.computed):
		v.fail(l.seq, ProblemHash, fmt.Sprintf("entry %d: hash does not match the entry's contents", l.seq))
	default:
		v.Verified, v.Head = l.seq, l.hash
		return true
	}
	return false
}

func (v *Verification) fail(seq int64, p Problem, detail string) {
	v.BrokenSeq, v.Problem, v.Detail = seq, p, detail
}

func linkDetail(seq int64) string {
	if seq == 1 {
		return "entry 1: prev_hash is not 32 zero bytes"
	}
	return fmt.Sprintf("entry %d: prev_hash is not the hash of entry %d", seq, seq-1)
}
