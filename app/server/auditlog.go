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
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server/auditquery"
)

// readAuditLog reads up to n of org's entries matching f, newest first,
// below seq before (0: from the newest), in its own tenant transaction.
func (s *Server) readAuditLog(ctx context.Context, orgID uuid.UUID, f audit.Filter, before int64, n int) ([]audit.StoredEntry, error) {
	var entries []audit.StoredEntry
	err := s.db.TenantTx(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		entries, err = s.queryAuditLog(ctx, tx, orgID, f, before, n)
		return err
	})
	return entries, err
}

// queryAuditLog is readAuditLog inside the caller's tenant transaction.
func (s *Server) queryAuditLog(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, f audit.Filter, before int64, n int) ([]audit.StoredEntry, error) {
	entries, err := s.sealer.List(ctx, tx, orgID, f, before, n)
	if err != nil {
		return nil, err
	}
	s.logUnopened(ctx, entries)
	return entries, nil
}

// readAuditEntry reads org's entry seq, opened, inside the caller's tenant
// transaction.
func (s *Server) readAuditEntry(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, seq int64) (audit.StoredEntry, error) {
	e, err := s.sealer.Get(ctx, tx, orgID, seq)
	if err != nil {
		return audit.StoredEntry{}, err
	}
	s.logUnopened(ctx, []audit.StoredEntry{e})
	return e, nil
}

// logUnopened logs the entries whose personal fields did not open under
// their organization's data key.
func (s *Server) logUnopened(ctx context.Context, entries []audit.StoredEntry) {
	for _, e := range entries {
		if e.OpenErr != nil {
			s.log.Warn("Audit entry's personal fields do not open", "error", e.OpenErr.Error(), "request_id", requestIDFrom(ctx))
		}
	}
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
	entries, err := s.readAuditLog(r.Context(), p.OrgID, q.Filter, q.StartingAfter, q.Limit+1)
	if err != nil {
		s.internalError(w, r, "listing the audit log", err)
		return
	}
	writeJSON(w, http.StatusOK, ledger.NewList(entries, q.Limit))
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
	if errs := auditquery.UnknownParams(r.URL.Query(), nil); len(errs) > 0 {
		invalidQuery(w, r, "Invalid audit log query", errs)
		return
	}
	p := principalFrom(r.Context())
	witness, state := s.readAuditWitness(r.Context(), p.OrgID)
	var v audit.Verification
	var wo auditWitnessObject
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		var err error
		v, wo, err = verifyWithWitness(r.Context(), tx, p.OrgID, witness, state)
		return err
	})
	if err != nil {
		s.internalError(w, r, "verifying the audit log", err)
		return
	}
	writeJSON(w, http.StatusOK, newAuditVerification(v, wo))
}
