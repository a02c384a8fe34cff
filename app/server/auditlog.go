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

package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// auditRef names an actor or a target.
type auditRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// auditEntryObject is an audit log entry as the API shows it; the hashes
// are hex. Sealed personal fields are shown opened, the IP address and
// user agent in their own fields and the rest in the metadata, as when
// they were stored in plaintext; once the organization's data key is gone
// they are absent (null, or missing from the metadata) and Erased is set.
type auditEntryObject struct {
	Object     string          `json:"object"`
	Seq        int64           `json:"seq"`
	ID         uuid.UUID       `json:"id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      auditRef        `json:"actor"`
	Action     string          `json:"action"`
	Target     auditRef        `json:"target"`
	IP         *string         `json:"ip"`
	UserAgent  *string         `json:"user_agent"`
	RequestID  *string         `json:"request_id"`
	Metadata   json.RawMessage `json:"metadata"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
	// Erased: the entry's personal fields were sealed under a data key
	// that is gone.
	Erased bool `json:"-"`

	sealed []byte // the stored personal column, until opened
}

const auditEntryColumns = `seq, id, occurred_at, actor_type, actor_id, action, target_type, target_id,
	host(ip), user_agent, request_id, metadata::text, prev_hash, hash, personal`

// scanAuditEntry reads one entry as stored; its personal fields, if
// sealed, are opened by open.
func scanAuditEntry(row pgx.Row) (auditEntryObject, error) {
	e := auditEntryObject{Object: "audit_entry"}
	var metadata string
	var prev, hash []byte
	err := row.Scan(&e.Seq, &e.ID, &e.OccurredAt, &e.Actor.Type, &e.Actor.ID, &e.Action, &e.Target.Type, &e.Target.ID,
		&e.IP, &e.UserAgent, &e.RequestID, &metadata, &prev, &hash, &e.sealed)
	e.OccurredAt = e.OccurredAt.UTC()
	e.Metadata = json.RawMessage(metadata)
	e.PrevHash, e.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
	return e, db.MapError(err)
}

// open shows e's sealed personal fields, opened with key (nil: the
// organization has no data key): the IP address and user agent in their
// fields, the others in the metadata. Fields that cannot be opened are
// left out and e is marked erased; a key that exists but does not open
// them means the entry was damaged, which verification reports.
func (e *auditEntryObject) open(key *audit.OrgKey) error {
	sealed := e.sealed
	e.sealed = nil
	if sealed == nil {
		return nil
	}
	if key == nil {
		e.Erased = true
		return nil
	}
	p, err := key.Open(e.Action, e.Target.Type, e.Target.ID, sealed)
	if err != nil {
		e.Erased = true
		return fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if p.IP.IsValid() {
		ip := p.IP.String()
		e.IP = &ip
	}
	if p.UserAgent != "" {
		e.UserAgent = &p.UserAgent
	}
	if len(p.Fields) == 0 {
		return nil
	}
	var metadata map[string]json.RawMessage
	if err := json.Unmarshal(e.Metadata, &metadata); err != nil {
		return fmt.Errorf("entry %d: decoding metadata: %w", e.Seq, err)
	}
	for name, v := range p.Fields {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("entry %d: encoding personal field %s: %w", e.Seq, name, err)
		}
		metadata[name] = b
	}
	b, err := json.Marshal(metadata)
	if err != nil {
		return fmt.Errorf("entry %d: encoding metadata: %w", e.Seq, err)
	}
	e.Metadata = b
	return nil
}

// openAll opens the personal fields of entries with key, logging the ones
// that do not open: one damaged entry does not hide the others.
func (s *Server) openAll(ctx context.Context, key *audit.OrgKey, entries []auditEntryObject) {
	for i := range entries {
		if err := entries[i].open(key); err != nil {
			s.log.Warn("Audit entry's personal fields do not open", "error", err.Error(), "request_id", requestIDFrom(ctx))
		}
	}
}

// where returns the condition selecting org's entries that match f and have
// a seq below before (0: no bound), with its parameters; key (nil: the
// organization has none) computes the blind indexes a match looks for.
// Every condition leads with org_id, so the audit_log indexes on
// (org_id, ...) serve it; a match is served by the GIN index on
// personal_index, whose keyed values differ between organizations.
func (f auditFilter) where(orgID uuid.UUID, before int64, key *audit.OrgKey) (string, []any) {
	conds, args := []string{"org_id = $1"}, []any{orgID}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	for _, c := range []struct{ column, value string }{
		{"actor_type", f.actorType}, {"actor_id", f.actorID}, {"action", f.action},
		{"target_type", f.targetType}, {"target_id", f.targetID},
	} {
		if c.value != "" {
			add(c.column+" = $?", c.value)
		}
	}
	if f.after != nil {
		add("occurred_at > $?", *f.after)
	}
	if f.before != nil {
		add("occurred_at < $?", *f.before)
	}
	if f.text != "" {
		add(`(strpos(lower(action), lower($?)) > 0 OR strpos(lower(target_id), lower($?)) > 0
			OR strpos(lower(actor_id), lower($?)) > 0 OR strpos(lower(metadata::text), lower($?)) > 0)`, f.text)
	}
	if f.match != "" {
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

// readAuditLog reads up to n of org's entries matching f, newest first,
// below seq before (0: from the newest).
func (s *Server) readAuditLog(ctx context.Context, orgID uuid.UUID, f auditFilter, before int64, n int) ([]auditEntryObject, error) {
	var entries []auditEntryObject
	err := s.db.TenantTx(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		entries, err = s.queryAuditLog(ctx, tx, orgID, f, before, n)
		return err
	})
	return entries, err
}

// queryAuditLog is readAuditLog inside the caller's tenant transaction.
func (s *Server) queryAuditLog(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, f auditFilter, before int64, n int) ([]auditEntryObject, error) {
	key, err := s.sealer.Key(ctx, tx, orgID)
	if err != nil {
		return nil, err
	}
	where, args := f.where(orgID, before, key)
	args = append(args, n)
	rows, err := tx.Query(ctx, `SELECT `+auditEntryColumns+` FROM audit_log WHERE `+where+
		` ORDER BY seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, db.MapError(err)
	}
	defer rows.Close()
	entries := []auditEntryObject{}
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.MapError(err)
	}
	s.openAll(ctx, key, entries)
	return entries, nil
}

// readAuditEntry reads org's entry seq, opened, inside the caller's tenant
// transaction.
func (s *Server) readAuditEntry(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, seq int64) (auditEntryObject, error) {
	key, err := s.sealer.Key(ctx, tx, orgID)
	if err != nil {
		return auditEntryObject{}, err
	}
	e, err := scanAuditEntry(tx.QueryRow(ctx, `SELECT `+auditEntryColumns+` FROM audit_log WHERE org_id = $1 AND seq = $2`, orgID, seq))
	if err != nil {
		return auditEntryObject{}, err
	}
	entries := []auditEntryObject{e}
	s.openAll(ctx, key, entries)
	return entries[0], nil
}

// listAuditLog answers GET /v1/audit-log: the caller's organization's
// entries matching the filters, newest first. starting_after is the seq of
// the last entry of the previous page.
func (s *Server) listAuditLog(w http.ResponseWriter, r *http.Request) {
	q, ok := parseAuditQuery(w, r, true)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	entries, err := s.readAuditLog(r.Context(), p.OrgID, q.filter, q.startingAfter, q.limit+1)
	if err != nil {
		s.internalError(w, r, "listing the audit log", err)
		return
	}
	writeJSON(w, http.StatusOK, newList(entries, q.limit))
}

// auditVerificationObject is the outcome of verifying an organization's
// chain. head_seq is the last intact entry (0: none); broken_seq, problem
// and detail are null while the chain is intact. ok is false as well when
// the chain disagrees with its witness or the witness cannot be checked.
type auditVerificationObject struct {
	Object    string             `json:"object"`
	OK        bool               `json:"ok"`
	Verified  int64              `json:"verified"`
	HeadSeq   int64              `json:"head_seq"`
	HeadHash  *string            `json:"head_hash"`
	BrokenSeq *int64             `json:"broken_seq"`
	Problem   *string            `json:"problem"`
	Detail    *string            `json:"detail"`
	Witness   auditWitnessObject `json:"witness"`
}

func newAuditVerification(v audit.Verification, witness auditWitnessObject) auditVerificationObject {
	o := auditVerificationObject{Object: "audit_verification", OK: v.OK() && !witness.spoils(), Verified: v.Verified, HeadSeq: v.Verified,
		Witness: witness}
	if v.Head != nil {
		h := hex.EncodeToString(v.Head)
		o.HeadHash = &h
	}
	if !v.OK() {
		problem := string(v.Problem)
		o.BrokenSeq, o.Problem, o.Detail = &v.BrokenSeq, &problem, &v.Detail
	}
	return o
}

// verifyAuditLog answers GET /v1/audit-log/verify by walking the caller's
// organization's chain and comparing it with the operator's witness, in
// one tenant transaction.
func (s *Server) verifyAuditLog(w http.ResponseWriter, r *http.Request) {
	if errs := unknownParams(r.URL.Query(), nil); len(errs) > 0 {
		writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid audit log query", Status: http.StatusBadRequest, Errors: errs})
		return
	}
	p := principalFrom(r.Context())
	witness, state := s.readAuditWitness(r.Context(), p.OrgID)
	var v audit.Verification
	var wo auditWitnessObject
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		var err error
		if v, err = audit.Verify(r.Context(), tx, p.OrgID); err != nil {
			return err
		}
		wo, err = compareAuditWitness(r.Context(), tx, witness, state)
		return err
	})
	if err != nil {
		s.internalError(w, r, "verifying the audit log", err)
		return
	}
	writeJSON(w, http.StatusOK, newAuditVerification(v, wo))
}
