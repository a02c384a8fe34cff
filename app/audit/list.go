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
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rekomi/rekomi/app/db"
)

// Filter narrows an organization's audit log. Empty fields do not filter.
type Filter struct {
	ActorType, ActorID   string
	Action               string
	TargetType, TargetID string
	// After and Before are exclusive bounds on occurred_at; nil does not
	// bound.
	After, Before *time.Time
	// Text is a case-insensitive substring of the action, the target id,
	// the actor id or the metadata; personal fields are not searched.
	Text string
	// Match is an exact personal value, found through its blind index in
	// MatchField, or in any of SearchedFields when MatchField is "".
	Match, MatchField string
}

// where returns the condition selecting org's entries that match f and have
// a seq below before (0: no bound), with its parameters; key (nil: the
// organization has none) computes the blind indexes a match looks for.
// Every condition leads with org_id, so the audit_log indexes on
// (org_id, ...) serve it; a match is served by the GIN index on
// personal_index, whose keyed values differ between organizations.
func (f Filter) where(org uuid.UUID, before int64, key *OrgKey) (string, []any) {
	conds, args := []string{"org_id = $1"}, []any{org}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	for _, c := range []struct{ column, value string }{
		{"actor_type", f.ActorType}, {"actor_id", f.ActorID}, {"action", f.Action},
		{"target_type", f.TargetType}, {"target_id", f.TargetID},
	} {
		if c.value != "" {
			add(c.column+" = $?", c.value)
		}
	}
	if f.After != nil {
		add("occurred_at > $?", *f.After)
	}
	if f.Before != nil {
		add("occurred_at < $?", *f.Before)
	}
	if f.Text != "" {
		add(`(strpos(lower(action), lower($?)) > 0 OR strpos(lower(target_id), lower($?)) > 0
			OR strpos(lower(actor_id), lower($?)) > 0 OR strpos(lower(metadata::text), lower($?)) > 0)`, f.Text)
	}
	if f.Match != "" {
		if key == nil {
			conds = append(conds, "false")
		} else {
			add("personal_index && $?::bytea[]", f.matchIndexes(key))
		}
	}
	if before > 0 {
		add("seq < $?", before)
	}
	return strings.Join(conds, " AND "), args
}

// matchIndexes are the blind indexes, under key, of the match value in
// the field it names or in each field a search looks in.
func (f Filter) matchIndexes(key *OrgKey) [][]byte {
	fields := SearchedFields
	if f.MatchField != "" {
		fields = []string{f.MatchField}
	}
	out := make([][]byte, len(fields))
	for i, field := range fields {
		out[i] = key.Index(field, f.Match)
	}
	return out
}

// List reads through q, org's tenant transaction, up to limit of org's
// entries matching f, newest first, with a seq below before (0: from the
// newest), and opens their personal fields with org's data key. An entry
// whose fields do not open is returned erased with its OpenErr set: one
// damaged entry does not hide the others.
func (s *Sealer) List(ctx context.Context, q db.DBTX, org uuid.UUID, f Filter, before int64, limit int) ([]StoredEntry, error) {
	key, err := s.Key(ctx, q, org)
	if err != nil {
		return nil, fmt.Errorf("listing the audit log of organization %s: %w", org, err)
	}
	where, args := f.where(org, before, key)
	args = append(args, limit)
	rows, err := q.Query(ctx, `SELECT `+storedColumns+` FROM audit_log WHERE `+where+
		` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("listing the audit log of organization %s: %w", org, db.MapError(err))
	}
	defer rows.Close()
	entries := []StoredEntry{}
	for rows.Next() {
		e, err := scanStored(rows)
		if err != nil {
			return nil, fmt.Errorf("listing the audit log of organization %s: %w", org, err)
		}
		e.OpenErr = e.Open(key)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the audit log of organization %s: %w", org, db.MapError(err))
	}
	return entries, nil
}

// Get reads org's entry seq through q, org's tenant transaction, and opens
// its personal fields as List does. It returns db.ErrNotFound when org has
// no entry seq.
func (s *Sealer) Get(ctx context.Context, q db.DBTX, org uuid.UUID, seq int64) (StoredEntry, error) {
	key, err := s.Key(ctx, q, org)
	if err != nil {
		return StoredEntry{}, fmt.Errorf("reading audit entry %d of organization %s: %w", seq, org, err)
	}
	e, err := scanStored(q.QueryRow(ctx, `SELECT `+storedColumns+` FROM audit_log WHERE org_id = $1 AND seq = $2`, org, seq))
	if err != nil {
		return StoredEntry{}, fmt.Errorf("reading audit entry %d of organization %s: %w", seq, org, err)
	}
	e.OpenErr = e.Open(key)
	return e, nil
}
