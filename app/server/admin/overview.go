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
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// overviewOrg is the signed-in organization as the overview shows it.
type overviewOrg struct {
	Name, DisplayName, Plan, Status string
	CancelledAt, PurgeAt            *time.Time
}

// overviewCount is one labelled number of the overview.
type overviewCount struct {
	Label string
	N     int64
}

// overviewTrust is what the Region states of the organization's own data:
// where it is kept, when it is purged, and its audit chain checked now.
type overviewTrust struct {
	Location  string
	GraceDays int
	// Audit is nil when the pages are given no CheckAudit.
	Audit *AuditCheck
}

type overviewData struct {
	Org         overviewOrg
	Trust       overviewTrust
	Counts      []overviewCount
	Commissions []overviewCount
	Recent      []audit.StoredEntry
	Keys        []ledger.APIKey
	CurrentKey  uuid.UUID
}

// keyListLimit bounds the keys the overview lists, newest first.
const keyListLimit = 100

// commissionStatuses are every status a commission can have, in the order
// the overview shows them.
var commissionStatuses = []string{"pending", "approved", "paid", "reversed"}

// overview answers GET /admin: the organization, its counts, its last
// ten audit entries and its API keys, read in one tenant transaction.
func (a *Pages) overview(w http.ResponseWriter, r *http.Request) {
	p := apikey.PrincipalFrom(r.Context())
	data := overviewData{CurrentKey: p.KeyID}
	err := a.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		return a.readOverview(r.Context(), tx, p.OrgID, &data)
	})
	if err != nil {
		a.internalError(w, r, "reading the overview", err)
		return
	}
	data.Trust.Audit = a.readAuditCheck(r, p.OrgID)
	a.render(w, r, http.StatusOK, "overview", page{Title: data.Org.DisplayName, Data: data})
}

func (a *Pages) readOverview(ctx context.Context, tx pgx.Tx, org uuid.UUID, data *overviewData) error {
	o := &data.Org
	counts := make([]int64, 4)
	err := tx.QueryRow(ctx, `SELECT name, display_name, plan, status, cancelled_at, purge_at,
			(SELECT count(*) FROM campaigns WHERE org_id = $1),
			(SELECT count(*) FROM affiliates WHERE org_id = $1),
			(SELECT count(*) FROM referral_links WHERE org_id = $1),
			(SELECT count(*) FROM payouts WHERE org_id = $1)
		FROM organizations WHERE id = $1`, org).
		Scan(&o.Name, &o.DisplayName, &o.Plan, &o.Status, &o.CancelledAt, &o.PurgeAt, &counts[0], &counts[1], &counts[2], &counts[3])
	if err != nil {
		return fmt.Errorf("reading the organization: %w", db.MapError(err))
	}
	for i, label := range []string{"Campaigns", "Affiliates", "Links", "Payouts"} {
		data.Counts = append(data.Counts, overviewCount{Label: label, N: counts[i]})
	}
	if data.Commissions, err = countCommissions(ctx, tx, org); err != nil {
		return err
	}
	if data.Recent, err = a.listAuditLog(ctx, tx, org, audit.Filter{}, 0, 10); err != nil {
		return fmt.Errorf("reading recent audit entries: %w", err)
	}
	keys, err := ledger.ListAPIKeys(ctx, tx, org, ledger.Page{Limit: keyListLimit})
	if err != nil {
		return err
	}
	data.Keys = keys.Data
	data.Trust = overviewTrust{Location: a.location, GraceDays: int(a.gracePeriod / (24 * time.Hour))}
	return nil
}

// readAuditCheck checks the organization's audit chain in a transaction of
// its own: a check that fails says so on the page rather than failing it.
func (a *Pages) readAuditCheck(r *http.Request, org uuid.UUID) *AuditCheck {
	if a.checkAudit == nil {
		return nil
	}
	var c AuditCheck
	err := a.db.TenantTx(r.Context(), org, func(tx pgx.Tx) error {
		var err error
		c, err = a.checkAudit(r.Context(), tx, org)
		return err
	})
	if err != nil {
		a.log.WarnContext(r.Context(), "Cannot check the audit chain for the overview", "org_id", org.String(), "error", err.Error())
		c = AuditCheck{Witness: auditUnchecked}
	}
	return &c
}

// auditUnchecked is the witness state of a chain that could not be
// checked.
const auditUnchecked = "unchecked"

func countCommissions(ctx context.Context, tx pgx.Tx, org uuid.UUID) ([]overviewCount, error) {
	rows, err := tx.Query(ctx, `SELECT status, count(*) FROM commissions WHERE org_id = $1 GROUP BY status`, org)
	if err != nil {
		return nil, fmt.Errorf("counting commissions: %w", db.MapError(err))
	}
	byStatus := map[string]int64{}
	var status string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&status, &n}, func() error { byStatus[status] = n; return nil }); err != nil {
		return nil, fmt.Errorf("counting commissions: %w", db.MapError(err))
	}
	out := make([]overviewCount, 0, len(commissionStatuses))
	for _, st := range commissionStatuses {
		out = append(out, overviewCount{Label: st, N: byStatus[st]})
	}
	return out, nil
}

// errAlreadyRevoked reports a revoke of a key that is already revoked:
// nothing changes and nothing is audited.
var errAlreadyRevoked = errors.New("the API key is already revoked")

// revokeAPIKey answers POST /admin/api-keys/{id}/revoke: it revokes
// one of the organization's keys and records an admin.override entry in
// the same transaction, then goes back to the overview. Revoking the key
// the session signed in with ends the session.
func (a *Pages) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.errorPage(w, r, http.StatusNotFound, "No such API key", "")
		return
	}
	p := apikey.PrincipalFrom(r.Context())
	err = a.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		return a.revokeAsAdmin(r, tx, p, id)
	})
	switch {
	case err == nil, errors.Is(err, errAlreadyRevoked):
		seeOther(w, r, "/admin")
	case errors.Is(err, db.ErrNotFound):
		a.errorPage(w, r, http.StatusNotFound, "No such API key", "")
	case errors.Is(err, ledger.ErrOrganizationCancelled):
		a.errorPage(w, r, http.StatusForbidden, "The organization is cancelled", "A cancelled organization can read but not write.")
	default:
		a.internalError(w, r, "revoking an API key", err)
	}
}

func (a *Pages) revokeAsAdmin(r *http.Request, tx pgx.Tx, p apikey.Principal, id uuid.UUID) error {
	ctx := r.Context()
	if err := ledger.RequireActive(ctx, tx, p.OrgID); err != nil {
		return err
	}
	key, err := ledger.GetAPIKey(ctx, tx, p.OrgID, id)
	if err != nil {
		return err
	}
	rec := a.recorder(r, "api_key.revoke", map[string]any{"api_key_id": id.String(), "name": key.Name, "prefix": key.Prefix})
	_, revoked, err := ledger.RevokeAPIKey(ctx, tx, p.OrgID, rec, id)
	if err == nil && !revoked {
		return errAlreadyRevoked
	}
	return err
}

// recorder records a verb's change as an admin.override entry of the
// signed-in admin: operation names what the admin did, and metadata (the
// details of the object changed) joins the verb's own metadata.
func (a *Pages) recorder(r *http.Request, operation string, metadata map[string]any) ledger.Recorder {
	return ledger.Recorder{Sealer: a.sealer, Entry: func(_, targetType, targetID string, verbMetadata map[string]any) audit.Entry {
		meta := map[string]any{"operation": operation}
		maps.Copy(meta, verbMetadata)
		maps.Copy(meta, metadata)
		return a.entry(r, apikey.PrincipalFrom(r.Context()), "admin.override", targetType, targetID, meta)
	}}
}
