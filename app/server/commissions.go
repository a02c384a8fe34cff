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
	"fmt"
	"net/http"
	"time"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// A commission is pending until its campaign's hold period ends
// (approve_after), then approved, then paid by a payout; a pending or
// approved one may be reversed with a reason. Approval needs no job: the
// API shows and filters a pending commission past approve_after as
// approved, through commissionStatusSQL, and approveDueCommissions records
// the approval when a payout needs it.

// commissionObject is a commission as the API shows it, with its effective
// status. approved_at is set once the approval is recorded (by a payout
// run); until then an approved commission became approved at
// approve_after.
type commissionObject struct {
	Object         string     `json:"object"`
	ID             uuid.UUID  `json:"id"`
	ConversionID   uuid.UUID  `json:"conversion_id"`
	AffiliateID    uuid.UUID  `json:"affiliate_id"`
	CampaignID     uuid.UUID  `json:"campaign_id"`
	Amount         int64      `json:"amount"`
	Currency       string     `json:"currency"`
	Status         string     `json:"status"`
	ApproveAfter   time.Time  `json:"approve_after"`
	ApprovedAt     *time.Time `json:"approved_at"`
	PaidAt         *time.Time `json:"paid_at"`
	ReversedAt     *time.Time `json:"reversed_at"`
	ReversedReason *string    `json:"reversed_reason"`
	PayoutID       *uuid.UUID `json:"payout_id"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// commissionDueSQL holds for a pending commission whose hold period is
// over: approved in effect, though not yet recorded as such.
const commissionDueSQL = `(status = 'pending' AND approve_after <= now())`

// commissionStatusSQL is a commission's effective status; every read and
// every status filter goes through it.
const commissionStatusSQL = `(CASE WHEN ` + commissionDueSQL + ` THEN 'approved' ELSE status END)`

const commissionColumns = `id, conversion_id, affiliate_id, campaign_id, amount, currency, ` + commissionStatusSQL + `,
	approve_after, approved_at, paid_at, reversed_at, reversed_reason, payout_id, created_at, updated_at`

func scanCommission(row pgx.Row) (commissionObject, error) {
	c := commissionObject{Object: "commission"}
	err := row.Scan(&c.ID, &c.ConversionID, &c.AffiliateID, &c.CampaignID, &c.Amount, &c.Currency, &c.Status,
		&c.ApproveAfter, &c.ApprovedAt, &c.PaidAt, &c.ReversedAt, &c.ReversedReason, &c.PayoutID, &c.CreatedAt, &c.UpdatedAt)
	return c, db.MapError(err)
}

// approveDueCommissions records the approval of affiliateID's pending
// commissions in currency whose hold period is over, and returns how many.
// A payout calls it (collectPayable) in its own transaction before it
// gathers approved commissions. It writes no audit entry: the status it
// records is the one the API already showed, and the payout that needs it
// audits itself.
func approveDueCommissions(ctx context.Context, tx db.DBTX, org, affiliateID uuid.UUID, currency string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE commissions SET status = 'approved', approved_at = now(), updated_at = now()
		WHERE org_id = $1 AND affiliate_id = $2 AND currency = $3 AND `+commissionDueSQL, org, affiliateID, currency)
	if err != nil {
		return 0, fmt.Errorf("approving the due commissions of affiliate %s: %w", affiliateID, db.MapError(err))
	}
	return tag.RowsAffected(), nil
}

func (s *Server) getCommission(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a commission", selectByID("commissions", commissionColumns, scanCommission))
}

func (s *Server) listCommissions(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	f := queryFilter{q: r.URL.Query()}
	status := f.oneOf("status", "pending", "approved", "paid", "reversed")
	affiliateID, campaignID := f.uuid("affiliate_id"), f.uuid("campaign_id")
	if !f.ok(w, r) {
		return
	}
	p := principalFrom(r.Context())
	commissions := []commissionObject{}
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		rows, err := tx.Query(r.Context(), `SELECT `+commissionColumns+` FROM commissions WHERE org_id = $1
			AND ($4::text IS NULL OR `+commissionStatusSQL+` = $4)
			AND ($5::uuid IS NULL OR affiliate_id = $5) AND ($6::uuid IS NULL OR campaign_id = $6)
			AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM commissions WHERE org_id = $1 AND id = $2))
			ORDER BY created_at DESC, id DESC LIMIT $3`, p.OrgID, page.startingAfter, page.limit+1, status, affiliateID, campaignID)
		if err != nil {
			return db.MapError(err)
		}
		commissions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (commissionObject, error) { return scanCommission(row) })
		return err
	})
	s.answer(w, r, "listing commissions", http.StatusOK, newList(commissions, page.limit), err)
}

// commissionReverseInput is the body of POST /v1/commissions/{id}/reverse.
type commissionReverseInput struct {
	Reason *string `json:"reason"`
}

func (s *Server) reverseCommission(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var in commissionReverseInput
	if !decodeJSON(w, r, &in) {
		return
	}
	var errs ledger.FieldErrors
	if in.Reason == nil {
		errs.Add("reason", "is required")
	}
	errs.Text("reason", in.Reason, 1, 1000)
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "reversing a commission", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		c, inPayout, err := lockCommission(ctx, tx, p.OrgID, id)
		switch {
		case err != nil || c.Status == "reversed":
			return http.StatusOK, c, err
		case c.Status == "paid" || inPayout:
			return 0, nil, problemError{Problem{Type: "conflict", Status: http.StatusConflict,
				Title:  "A commission that is paid or in a payout cannot be reversed",
				Detail: "a paid commission is clawed back by an adjustment on the affiliate's next payout"}}
		}
		reversed, err := markReversed(ctx, tx, p.OrgID, id, *in.Reason)
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "commission.reversed", "commission", id.String(),
			map[string]any{"reason": *in.Reason, "status_was": c.Status, "amount": c.Amount, "currency": c.Currency}))
		return http.StatusOK, reversed, err
	})
}

// markReversed reverses a commission that is neither paid nor in a payout
// (the caller locked it and checked), for reason; the API and a refund or
// dispute both reverse through it.
func markReversed(ctx context.Context, tx pgx.Tx, org, id uuid.UUID, reason string) (commissionObject, error) {
	c, err := scanCommission(tx.QueryRow(ctx, `UPDATE commissions SET status = 'reversed', reversed_reason = $3,
		reversed_at = now(), updated_at = now() WHERE org_id = $1 AND id = $2 RETURNING `+commissionColumns, org, id, reason))
	if err != nil {
		return c, fmt.Errorf("reversing commission %s: %w", id, err)
	}
	return c, nil
}

// lockCommission reads a commission for update and whether a payout holds
// it.
func lockCommission(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (commissionObject, bool, error) {
	c, err := scanCommission(tx.QueryRow(ctx, `SELECT `+commissionColumns+` FROM commissions
		WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
	if err != nil {
		return c, false, err
	}
	var inPayout bool
	err = tx.QueryRow(ctx, `SELECT $3::uuid IS NOT NULL OR EXISTS (SELECT 1 FROM payout_items WHERE org_id = $1 AND commission_id = $2)`,
		org, id, c.PayoutID).Scan(&inPayout)
	return c, inPayout, wrapErr("checking the commission's payout", db.MapError(err))
}
