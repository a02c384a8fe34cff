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

package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server/auditquery"
)

// auditPageSize is the admin audit log's page size when the query
// names no limit.
const auditPageSize = 25

type auditLogData struct {
	Form       url.Values // the query, to refill the search form
	ActorTypes []string
	Errors     []ledger.FieldError
	Entries    []audit.StoredEntry
	NextURL    string // "" on the last page
	ExportURL  string
}

// auditLog answers GET /admin/audit-log: the search form, with the
// same parameters as GET /v1/audit-log, and one page of matching entries,
// newest first. "Next page" carries starting_after, the seq of the page's
// last entry, exactly as the API's cursor does.
func (a *Pages) auditLog(w http.ResponseWriter, r *http.Request) {
	values := r.URL.Query()
	data := auditLogData{Form: values, ActorTypes: auditquery.ActorTypes()}
	q, errs := auditquery.Parse(values, true, auditPageSize)
	if len(errs) > 0 {
		data.Errors = errs
		a.render(w, r, http.StatusBadRequest, "audit_log", page{Title: "Audit log", Data: data})
		return
	}
	p := apikey.PrincipalFrom(r.Context())
	entries, err := a.readAuditLog(r.Context(), p.OrgID, q.Filter, q.StartingAfter, q.Limit+1)
	if err != nil {
		a.internalError(w, r, "reading the audit log", err)
		return
	}
	list := ledger.NewList(entries, q.Limit)
	data.Entries = list.Data
	filters := nonEmpty(values, auditquery.FilterParams())
	data.ExportURL = "/admin/audit-log/export.csv"
	if len(filters) > 0 {
		data.ExportURL += "?" + filters.Encode()
	}
	if list.HasMore {
		next := nonEmpty(values, append(auditquery.FilterParams(), "limit"))
		next.Set("starting_after", strconv.FormatInt(list.Data[len(list.Data)-1].Seq, 10))
		data.NextURL = "/admin/audit-log?" + next.Encode()
	}
	a.render(w, r, http.StatusOK, "audit_log", page{Title: "Audit log", Data: data})
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

// readAuditLog reads up to n of org's entries matching f, newest first,
// below seq before (0: from the newest), in its own tenant transaction.
func (a *Pages) readAuditLog(ctx context.Context, org uuid.UUID, f audit.Filter, before int64, n int) ([]audit.StoredEntry, error) {
	var entries []audit.StoredEntry
	err := a.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		var err error
		entries, err = a.listAuditLog(ctx, tx, org, f, before, n)
		return err
	})
	return entries, err
}

// listAuditLog is readAuditLog inside the caller's tenant transaction. It
// logs the entries whose personal fields do not open under their
// organization's data key.
func (a *Pages) listAuditLog(ctx context.Context, tx pgx.Tx, org uuid.UUID, f audit.Filter, before int64, n int) ([]audit.StoredEntry, error) {
	entries, err := a.sealer.List(ctx, tx, org, f, before, n)
	if err != nil {
		return nil, fmt.Errorf("listing the audit log: %w", err)
	}
	for _, e := range entries {
		if e.OpenErr != nil {
			a.log.Warn("Audit entry's personal fields do not open", "error", e.OpenErr.Error(), "request_id", a.requestID(ctx))
		}
	}
	return entries, nil
}
