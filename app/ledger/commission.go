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

package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Status is where a commission stands.
type Status string

const (
	// Pending: within its campaign's hold period.
	Pending Status = "pending"
	// Approved: past its hold period, payable.
	Approved Status = "approved"
	// Paid: a payout paid it.
	Paid Status = "paid"
	// Reversed: it will never be paid, for the reason it carries.
	Reversed Status = "reversed"
)

// A commission is pending until its campaign's hold period ends
// (approve_after), then approved, then paid by a payout; a pending or
// approved one may be reversed with a reason. Approval needs no job: the
// API shows and filters a pending commission past approve_after as
// approved, through commissionStatusSQL, and ApproveDueCommissions records
// the approval when a payout needs it.

// Commission is a commission as the API shows it, with its effective
// status. approved_at is set once the approval is recorded (by a payout
// run); until then an approved commission became approved at
// approve_after.
type Commission struct {
	Object       string    `json:"object"`
	ID           uuid.UUID `json:"id"`
	ConversionID uuid.UUID `json:"conversion_id"`
	AffiliateID  uuid.UUID `json:"affiliate_id"`
	CampaignID   uuid.UUID `json:"campaign_id"`
	Amount       int64     `json:"amount"`
	// EarnedAmount is what the sale earned before refunds and disputes
	// reduced the amount.
	EarnedAmount   int64      `json:"earned_amount"`
	Currency       string     `json:"currency"`
	Status         Status     `json:"status"`
	ApproveAfter   time.Time  `json:"approve_after"`
	ApprovedAt     *time.Time `json:"approved_at"`
	PaidAt         *time.Time `json:"paid_at"`
	ReversedAt     *time.Time `json:"reversed_at"`
	ReversedReason *string    `json:"reversed_reason"`
	// ReversedBy is who reversed it: ReversedByAPI, which nothing undoes,
	// or ReversedByProvider, a refund or dispute its provider reported,
	// which a dispute won or a smaller refund total gives back.
	ReversedBy *string    `json:"reversed_by"`
	PayoutID   *uuid.UUID `json:"payout_id"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// commissionDueSQL holds for a pending commission whose hold period is
// over: approved in effect, though not yet recorded as such.
const commissionDueSQL = `(status = 'pending' AND approve_after <= now())`

// commissionStatusSQL is a commission's effective status; every read and
// every status filter goes through it.
const commissionStatusSQL = `(CASE WHEN ` + commissionDueSQL + ` THEN 'approved' ELSE status END)`

const commissionColumns = `id, conversion_id, affiliate_id, campaign_id, amount, coalesce(earned_amount, amount), currency, ` + commissionStatusSQL + `,
	approve_after, approved_at, paid_at, reversed_at, reversed_reason, ` + reversedBySQL + `, payout_id, created_at, updated_at`

// reversedBySQL is who reversed a commission; one reversed by the previous
// release, during a rollout, is read as that release read it: its
// provider's when its reason is refunded or disputed.
const reversedBySQL = `coalesce(reversed_by, CASE WHEN status = 'reversed' THEN
	CASE WHEN reversed_reason IN ('refunded', 'disputed') THEN 'provider' ELSE 'api' END END)`

func scanCommission(row pgx.Row) (Commission, error) {
	c := Commission{Object: "commission"}
	err := row.Scan(&c.ID, &c.ConversionID, &c.AffiliateID, &c.CampaignID, &c.Amount, &c.EarnedAmount, &c.Currency, &c.Status,
		&c.ApproveAfter, &c.ApprovedAt, &c.PaidAt, &c.ReversedAt, &c.ReversedReason, &c.ReversedBy, &c.PayoutID, &c.CreatedAt, &c.UpdatedAt)
	return c, db.MapError(err)
}

// ApproveDueCommissions records the approval of affiliateID's pending
// commissions in currency whose hold period is over, and returns how many.
// A payout calls it (collectPayable) in its own transaction before it
// gathers approved commissions. It writes no audit entry: the status it
// records is the one the API already showed, and the payout that needs it
// audits itself.
func ApproveDueCommissions(ctx context.Context, tx db.DBTX, org, affiliateID uuid.UUID, currency string) (int64, error) {
	tag, err := tx.Exec(ctx, `UPDATE commissions SET status = 'approved', approved_at = now(), updated_at = now()
		WHERE org_id = $1 AND affiliate_id = $2 AND currency = $3 AND `+commissionDueSQL, org, affiliateID, currency)
	if err != nil {
		return 0, fmt.Errorf("approving the due commissions of affiliate %s: %w", affiliateID, db.MapError(err))
	}
	return tag.RowsAffected(), nil
}

// GetCommission reads commission id of org, or db.ErrNotFound.
func GetCommission(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Commission, error) {
	return Get(ctx, tx, org, commissionQuery, id)
}

// CommissionFilter keeps the commissions in one status, of one affiliate,
// of one campaign, or any of these together; nil keeps all.
type CommissionFilter struct {
	Status                  *Status
	AffiliateID, CampaignID *uuid.UUID
}

// ListCommissions reads a page of org's commissions that f keeps.
func ListCommissions(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, f CommissionFilter) (List[Commission], error) {
	q := commissionQuery
	q.Where = `($4::text IS NULL OR ` + commissionStatusSQL + ` = $4)
		AND ($5::uuid IS NULL OR affiliate_id = $5) AND ($6::uuid IS NULL OR campaign_id = $6)`
	return ListPage(ctx, tx, org, q, p, f.Status, f.AffiliateID, f.CampaignID)
}

var commissionQuery = Query[Commission]{Table: "commissions", Columns: commissionColumns, Scan: scanCommission}

// Reversal is why a commission is reversed.
type Reversal struct {
	Reason string
	// Metadata is added to the audit entry.
	Metadata map[string]any
}

// ErrPaid refuses to reverse a commission that is paid or in a payout.
var ErrPaid = conflict("A commission that is paid or in a payout cannot be reversed",
	"a paid commission is clawed back by an adjustment on the affiliate's next payout, which a refund or dispute of its sale makes")

// Who reversed a commission (Commission.ReversedBy).
const (
	ReversedByAPI      = "api"
	ReversedByProvider = "provider"
)

// ReverseCommission reverses commission id of org for rv's reason and
// audits it (commission.reversed), returning the commission as it is now.
// A commission the API reversed before is returned unchanged: the same
// reversal twice changes and audits nothing. One a refund or dispute
// reversed becomes the API's, with rv's reason, so that a dispute won no
// longer gives it back. One that is paid or in a payout is refused. The
// API reverses with it; a refund or dispute of the sale reduces its
// commissions through ReduceSale instead.
func ReverseCommission(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, rv Reversal) (Commission, error) {
	c, inPayout, err := lockCommission(ctx, tx, org, id)
	if err != nil || (c.Status == Reversed && *c.ReversedBy == ReversedByAPI) {
		return c, db.Wrap("locking commission "+id.String(), err)
	}
	if c.Status != Reversed && (c.Status == Paid || inPayout) {
		return c, ErrPaid
	}
	meta := map[string]any{"reason": rv.Reason, "status_was": c.Status, "amount": c.Amount, "currency": c.Currency,
		"affiliate_id": c.AffiliateID, "conversion_id": c.ConversionID}
	if c.Status == Reversed {
		meta["reversed_by_was"], meta["reason_was"] = *c.ReversedBy, *c.ReversedReason
	}
	for k, v := range rv.Metadata {
		meta[k] = v
	}
	if c, err = markReversed(ctx, tx, org, id, rv.Reason); err != nil {
		return c, err
	}
	return c, rec.Record(ctx, tx, org, "commission.reversed", "commission", id.String(), meta, nil)
}

// markReversed reverses, by the API, a commission that is neither paid nor
// in a payout, or takes over its provider's reversal (the caller locked it
// and checked).
func markReversed(ctx context.Context, tx pgx.Tx, org, id uuid.UUID, reason string) (Commission, error) {
	c, err := scanCommission(tx.QueryRow(ctx, `UPDATE commissions SET reversed_reason = $3, reversed_by = 'api',
		reversed_at = CASE WHEN status = 'reversed' THEN reversed_at ELSE now() END, status = 'reversed', updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+commissionColumns, org, id, reason))
	if err != nil {
		return c, fmt.Errorf("reversing commission %s: %w", id, err)
	}
	return c, nil
}

// lockCommission reads a commission for update and whether a payout holds
// it.
func lockCommission(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Commission, bool, error) {
	c, err := scanCommission(tx.QueryRow(ctx, `SELECT `+commissionColumns+` FROM commissions
		WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
	if err != nil {
		return c, false, err
	}
	var inPayout bool
	err = tx.QueryRow(ctx, `SELECT $3::uuid IS NOT NULL OR EXISTS (SELECT 1 FROM payout_items WHERE org_id = $1 AND commission_id = $2)`,
		org, id, c.PayoutID).Scan(&inPayout)
	return c, inPayout, db.Wrap("checking the commission's payout", db.MapError(err))
}
