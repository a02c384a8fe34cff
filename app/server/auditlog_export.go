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
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rekomi/rekomi/app/audit"
)

// exportBatch is how many entries the export reads per query: memory stays
// bounded however long the log.
const exportBatch = 500

var auditCSVHeader = []string{"seq", "id", "occurred_at", "actor_type", "actor_id", "action", "target_type", "target_id",
	"ip", "user_agent", "request_id", "metadata", "prev_hash", "hash"}

// exportAuditLog answers GET /v1/audit-log/export.csv: every entry matching
// the filters, newest first, as RFC 4180 CSV with a header row. It reads in
// keyset batches, each in its own short transaction; entries appended while
// it runs have higher seqs and are left out. A failure after the first
// batch can no longer be a problem answer, so it aborts the response, which
// the client sees as a truncated transfer.
func (s *Server) exportAuditLog(w http.ResponseWriter, r *http.Request) {
	q, ok := parseAuditQuery(w, r, false)
	if !ok {
		return
	}
	org := principalFrom(r.Context()).OrgID
	batch, err := s.readAuditLog(r.Context(), org, q.Filter, 0, exportBatch)
	if err != nil {
		s.internalError(w, r, "exporting the audit log", err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit-log.csv"`)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(auditCSVHeader)
	for {
		for _, e := range batch {
			_ = cw.Write(csvRecord(e))
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			s.log.Warn("Audit log export stopped: the client went away", "error", err.Error(), "request_id", requestIDFrom(r.Context()))
			return
		}
		if len(batch) < exportBatch {
			return
		}
		batch, err = s.readAuditLog(r.Context(), org, q.Filter, batch[len(batch)-1].Seq, exportBatch)
		if err != nil {
			s.log.Error("Audit log export failed part-way", "error", err.Error(), "request_id", requestIDFrom(r.Context()))
			panic(http.ErrAbortHandler)
		}
	}
}

// csvRecord is e as one CSV row, in the order of auditCSVHeader, with every
// cell made safe to open in a spreadsheet.
func csvRecord(e audit.StoredEntry) []string {
	cells := []string{strconv.FormatInt(e.Seq, 10), e.ID.String(), e.OccurredAt.Format(time.RFC3339Nano),
		e.Actor.Type, e.Actor.ID, e.Action, e.Target.Type, e.Target.ID,
		deref(e.IP), deref(e.UserAgent), deref(e.RequestID), string(e.Metadata), e.PrevHash, e.Hash}
	for i, c := range cells {
		cells[i] = neutraliseFormula(c)
	}
	return cells
}

// neutraliseFormula prefixes a cell a spreadsheet would run as a formula
// (starting with = + - @, or a tab or carriage return) with an apostrophe,
// so it is shown as text.
func neutraliseFormula(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
