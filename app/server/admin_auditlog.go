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
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/rekomi/rekomi/app/audit"
)

// adminAuditPageSize is the admin audit log's page size when the query
// names no limit.
const adminAuditPageSize = 25

type adminAuditLogData struct {
	Form       url.Values // the query, to refill the search form
	ActorTypes []string
	Errors     []ledger.FieldError
	Entries    []audit.StoredEntry
	NextURL    string // "" on the last page
	ExportURL  string
}

// adminAuditLog answers GET /admin/audit-log: the search form, with the
// same parameters as GET /v1/audit-log, and one page of matching entries,
// newest first. "Next page" carries starting_after, the seq of the page's
// last entry, exactly as the API's cursor does.
func (s *Server) adminAuditLog(w http.ResponseWriter, r *http.Request) {
	values := r.URL.Query()
	data := adminAuditLogData{Form: values, ActorTypes: []string{audit.ActorAPIKey, audit.ActorMember,
		audit.ActorOperator, audit.ActorProvider, audit.ActorSystem, audit.ActorAdmin}}
	q, errs := auditQueryFrom(values, true, adminAuditPageSize)
	if len(errs) > 0 {
		data.Errors = errs
		s.render(w, r, http.StatusBadRequest, "audit_log", adminPage{Title: "Audit log", Data: data})
		return
	}
	p := principalFrom(r.Context())
	entries, err := s.readAuditLog(r.Context(), p.OrgID, q.filter, q.startingAfter, q.limit+1)
	if err != nil {
		s.adminInternalError(w, r, "reading the audit log", err)
		return
	}
	page := newList(entries, q.limit)
	data.Entries = page.Data
	filters := nonEmpty(values, auditFilterParams)
	data.ExportURL = "/admin/audit-log/export.csv"
	if len(filters) > 0 {
		data.ExportURL += "?" + filters.Encode()
	}
	if page.HasMore {
		next := nonEmpty(values, append(slices.Clone(auditFilterParams), "limit"))
		next.Set("starting_after", strconv.FormatInt(page.Data[len(page.Data)-1].Seq, 10))
		data.NextURL = "/admin/audit-log?" + next.Encode()
	}
	s.render(w, r, http.StatusOK, "audit_log", adminPage{Title: "Audit log", Data: data})
}

// nonEmpty keeps the named parameters that have a value.
func nonEmpty(values url.Values, names []string) url.Values {
	out := url.Values{}
	for _, name := range names {
		if v := values.Get(name); v != "" {
			out.Set(name, v)
		}
	}
	return out
}
