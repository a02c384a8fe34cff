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
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// exportTable is one table of an organization export: the rows' order, and
// the columns left out because they hold secret material (hashes of keys
// and tokens, encrypted signing secrets).
type exportTable struct {
	name    string
	orderBy string
	omit    []string
}

// exportTables is every table an export covers, parents before children,
// so that loading the lines in order satisfies the foreign keys.
var exportTables = []exportTable{
	{name: "organizations", orderBy: "id", omit: []string{"stripe_secret_key_sealed"}},
	{name: "members", orderBy: "created_at, id"},
	{name: "api_keys", orderBy: "created_at, id", omit: []string{"hash"}},
	{name: "webhook_endpoints", orderBy: "created_at, id", omit: []string{"secrets"}},
	{name: "campaigns", orderBy: "created_at, id"},
	{name: "affiliates", orderBy: "created_at, id"},
	{name: "affiliate_invites", orderBy: "created_at, id", omit: []string{"token_hash"}},
	{name: "referral_links", orderBy: "created_at, id"},
	{name: "promo_codes", orderBy: "created_at, id"},
	{name: "clicks", orderBy: "id"},
	{name: "customers", orderBy: "created_at, id"},
	{name: "conversions", orderBy: "created_at, id"},
	{name: "payouts", orderBy: "created_at, id"},
	{name: "commissions", orderBy: "created_at, id"},
	{name: "commission_adjustments", orderBy: "created_at, id"},
	{name: "sale_reductions", orderBy: "created_at, id"},
	{name: "payout_items", orderBy: "payout_id, commission_id"},
	{name: "payout_deductions", orderBy: "payout_id, adjustment_id"},
	{name: "billing_events", orderBy: "received_at, id"},
	{name: "audit_log", orderBy: "seq"},
}

// exportOmittedTables are the tenant tables an export leaves out, and why.
var exportOmittedTables = map[string]string{
	"route_keys":       "derived: the public codes and prefixes are in the links, endpoints and keys themselves",
	"idempotency_keys": "a retry aid holding stored answers for 24 hours",
	"admin_sessions":   "the admin pages' open sessions; each sign-in and sign-out is in the audit log",
	"org_data_keys":    "sealed with the Region's key ring, of no use outside it; the audit entries it seals are exported opened",
}

// exportLine is one line of the NDJSON export. The first line is the
// header (object "export"), every row is an "export.row" with its table,
// and the last line is "export.end" with the row counts, so a truncated
// download is recognisable.
type exportLine struct {
	Object         string           `json:"object"`
	OrganizationID *uuid.UUID       `json:"organization_id,omitempty"`
	ExportedAt     *time.Time       `json:"exported_at,omitempty"`
	Table          string           `json:"table,omitempty"`
	Data           json.RawMessage  `json:"data,omitempty"`
	Rows           map[string]int64 `json:"rows,omitempty"`
}

// exportOrganization answers GET /v1/export: all of the organization's data
// as NDJSON, read from one snapshot. It is allowed while the organization
// is cancelled, which is when it matters most. The export itself is
// audited as organization.exported before the first byte is sent.
func (s *Server) exportOrganization(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	err := s.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		_, err := s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "organization.exported", "organization", p.OrgID.String(), nil))
		return err
	})
	if err != nil {
		s.writeError(w, r, "auditing an export", err)
		return
	}
	started := false
	err = s.db.TenantSnapshotTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		started = true
		return s.streamExport(ctx, w, tx, p.OrgID)
	})
	if err == nil {
		return
	}
	if !started {
		s.writeError(w, r, "exporting the organization", err)
		return
	}
	// Part of the body may be out: end the response abruptly so that the
	// client sees a broken transfer and no export.end line.
	s.log.Error("Organization export failed part-way", "error", err.Error(), "request_id", requestIDFrom(ctx))
	panic(http.ErrAbortHandler)
}

// streamExport writes the export from tx; rows are streamed from the
// database, so memory stays bounded whatever the organization's size, and
// the write deadline is pushed back as long as rows keep flowing.
func (s *Server) streamExport(ctx context.Context, w http.ResponseWriter, tx pgx.Tx, org uuid.UUID) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rekomi-export-%s.ndjson"`, org))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	out := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(out)
	now := time.Now().UTC()
	if err := enc.Encode(exportLine{Object: "export", OrganizationID: &org, ExportedAt: &now}); err != nil {
		return fmt.Errorf("writing the export header: %w", err)
	}
	key, err := s.sealer.Key(ctx, tx, org)
	if err != nil {
		return err
	}
	counts := make(map[string]int64, len(exportTables))
	for _, t := range exportTables {
		var transform func(string) (string, error)
		if t.name == "audit_log" {
			transform = auditRowOpener(key)
		}
		n, err := exportRows(ctx, tx, enc, org, t, transform, func() error {
			_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			return out.Flush()
		})
		if err != nil {
			return err
		}
		counts[t.name] = n
	}
	if err := enc.Encode(exportLine{Object: "export.end", Rows: counts}); err != nil {
		return fmt.Errorf("writing the export trailer: %w", err)
	}
	return out.Flush()
}

// exportFlushEvery is how many rows go out between flushes.
const exportFlushEvery = 500

// exportRows writes t's rows of org, each as an export.row line made by
// transform (nil: as stored), calling flush every exportFlushEvery rows.
func exportRows(ctx context.Context, tx pgx.Tx, enc *json.Encoder, org uuid.UUID, t exportTable,
	transform func(string) (string, error), flush func() error) (int64, error) {
	orgColumn := "org_id"
	if t.name == "organizations" {
		orgColumn = "id"
	}
	omit := t.omit
	if omit == nil {
		omit = []string{}
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT (to_jsonb(t) - $2::text[])::text FROM %s t WHERE %s = $1 ORDER BY %s`,
		pgx.Identifier{t.name}.Sanitize(), orgColumn, t.orderBy), org, omit)
	if err != nil {
		return 0, fmt.Errorf("exporting %s: %w", t.name, db.MapError(err))
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return n, fmt.Errorf("exporting %s: %w", t.name, err)
		}
		if transform != nil {
			if data, err = transform(data); err != nil {
				return n, fmt.Errorf("exporting %s: %w", t.name, err)
			}
		}
		if err := enc.Encode(exportLine{Object: "export.row", Table: t.name, Data: json.RawMessage(data)}); err != nil {
			return n, fmt.Errorf("writing %s: %w", t.name, err)
		}
		if n++; n%exportFlushEvery == 0 {
			if err := flush(); err != nil {
				return n, fmt.Errorf("writing %s: %w", t.name, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("exporting %s: %w", t.name, db.MapError(err))
	}
	return n, flush()
}
