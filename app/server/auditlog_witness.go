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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
)

// The operator witnesses each organization's audit chain outside the
// database and publishes the signed witness to the Region's app as one file
// per organization (a ConfigMap volume, which the kubelet updates in
// place). GET /v1/audit-log/verify compares the chain with that file, so
// that a rewrite by the database owner, which the chain alone cannot show,
// is reported.

// Witness states of an audit verification.
const (
	witnessAgrees        = "agrees"
	witnessDisagrees     = "disagrees"
	witnessNotWitnessed  = "not_witnessed"
	witnessUnverifiable  = "unverifiable"
	witnessNotConfigured = "not_configured"
)

// maxWitnessBytes bounds a witness file: the operator's are about 1.5 KB.
const maxWitnessBytes = 64 << 10

// auditWitnessObject is how the verification of a chain against its
// witness is shown. seq and witnessed_at name the newest checkpoint;
// first_disagreeing_seq is the first entry that may have been changed.
type auditWitnessObject struct {
	State               string     `json:"state"`
	Seq                 *int64     `json:"seq"`
	WitnessedAt         *time.Time `json:"witnessed_at"`
	FirstDisagreeingSeq *int64     `json:"first_disagreeing_seq"`
}

// spoils says whether the state makes the whole verification fail.
func (o auditWitnessObject) spoils() bool {
	return o.State == witnessDisagrees || o.State == witnessUnverifiable
}

// errNoWitness means the organization has no witness file yet.
var errNoWitness = errors.New("no audit witness for this organization")

// readAuditWitness reads and checks the witness of org: the state when no
// usable witness is there, otherwise the witness, its signature verified.
// It never fails: any fault with the file is the state unverifiable, and
// why is logged.
func (s *Server) readAuditWitness(ctx context.Context, org uuid.UUID) (audit.Witness, string) {
	if s.cfg.AuditWitnessDir == "" {
		return audit.Witness{}, witnessNotConfigured
	}
	w, err := s.loadAuditWitness(org)
	switch {
	case errors.Is(err, errNoWitness):
		return w, witnessNotWitnessed
	case err != nil:
		s.log.WarnContext(ctx, "Audit witness unverifiable", "org_id", org.String(), "error", err.Error())
		return w, witnessUnverifiable
	}
	return w, ""
}

// loadAuditWitness reads the file afresh on every call: the kubelet swaps
// a ConfigMap volume's files through a symlink, so an open handle or a
// cached copy would go stale.
func (s *Server) loadAuditWitness(org uuid.UUID) (audit.Witness, error) {
	var w audit.Witness
	key, err := s.cfg.AuditWitnessKey()
	if err != nil || key == nil {
		return w, fmt.Errorf("no usable audit witness public key: %v", err)
	}
	f, err := os.Open(filepath.Join(s.cfg.AuditWitnessDir, org.String()))
	if errors.Is(err, fs.ErrNotExist) {
		return w, errNoWitness
	}
	if err != nil {
		return w, fmt.Errorf("opening the audit witness: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxWitnessBytes+1))
	if err != nil {
		return w, fmt.Errorf("reading the audit witness: %w", err)
	}
	if len(data) > maxWitnessBytes {
		return w, fmt.Errorf("the audit witness is over %d bytes", maxWitnessBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return w, fmt.Errorf("decoding the audit witness: %w", err)
	}
	if w.OrgID != org {
		return w, fmt.Errorf("the audit witness is organization %s's", w.OrgID)
	}
	if err := w.Verify(key); err != nil {
		return w, err
	}
	if len(w.Checkpoints) == 0 {
		return w, errNoWitness
	}
	return w, nil
}

// verifyWithWitness walks org's chain and compares it with its witness w
// (state as readAuditWitness gives it) in the caller's tenant
// transaction: what GET /v1/audit-log/verify, the admin overview and the
// /trust chain check each report.
func verifyWithWitness(ctx context.Context, tx pgx.Tx, org uuid.UUID, w audit.Witness, state string) (audit.Verification, auditWitnessObject, error) {
	v, err := audit.Verify(ctx, tx, org)
	if err != nil {
		return v, auditWitnessObject{}, err
	}
	wo, err := compareAuditWitness(ctx, tx, w, state)
	return v, wo, err
}

// compareAuditWitness compares org's chain with w inside the caller's
// tenant transaction; state is that of readAuditWitness.
func compareAuditWitness(ctx context.Context, tx pgx.Tx, w audit.Witness, state string) (auditWitnessObject, error) {
	o := auditWitnessObject{State: state}
	if state != "" {
		return o, nil
	}
	newest := w.Checkpoints[len(w.Checkpoints)-1]
	at := newest.At.UTC()
	o.Seq, o.WitnessedAt = &newest.Seq, &at
	d, err := audit.CompareWitness(ctx, tx, w)
	if err != nil {
		return o, err
	}
	if d == nil {
		o.State = witnessAgrees
		return o, nil
	}
	o.State, o.FirstDisagreeingSeq = witnessDisagrees, &d.FirstSeq
	return o, nil
}
