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
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Refunds and disputes, to the cent. ReduceSale records a refund or a
// dispute of a sale as its provider reports it (sale_reductions), then
// reconciles each commission of the sale to what it should now pay:
//
//	lost   = min(sale amount, refunds + disputes not won)
//	target = what it earned × lost / sale amount, rounded half up
//	pays   = what it earned − target
//
// The target is computed from the running totals every time, never added
// up from one event's share, so several partial refunds add up to the
// cent, never exceed what the commission earned, and end in the same state
// whatever order they arrive in. A dispute won gives back what its opening
// took. What a commission pays is its amount (none once reversed) plus its
// adjustments: a commission neither paid nor held by a payout is changed
// in place (reversed when it pays nothing, given back when a dispute is
// won), one that is paid or in a payout gets an adjustment, negative to
// claw back and positive to restore, settled on the affiliate's next
// payout. A commission reversed through the API is left alone, whatever
// its reason. Every change is audited.

// ReductionKind is a refund or a dispute.
type ReductionKind string

const (
	Refund  ReductionKind = "refund"
	Dispute ReductionKind = "dispute"
)

// The states of a reduction: a refund is refunded; a dispute is open
// until it is won or lost. A dispute won takes nothing back.
const (
	ReductionRefunded = "refunded"
	DisputeOpen       = "open"
	DisputeWon        = "won"
	DisputeLost       = "lost"
)

// maxReductionSource bounds a reduction's source, as sale_reductions does.
const maxReductionSource = 300

// Reduction is a refund or a dispute of a sale as its provider reports it.
type Reduction struct {
	Kind ReductionKind
	// Source names it among the sale's reductions of its kind, such as
	// "stripe:charge:ch_1" or "shopify:refund:123".
	Source string
	// Amount is what it takes back, in minor units of Currency. When
	// SoFar, it is the running total under Source (Stripe's
	// amount_refunded), so a smaller one is an older report.
	Amount   int64
	Currency string
	SoFar    bool
	// State is ReductionRefunded for a refund, and DisputeOpen, DisputeWon
	// or DisputeLost for a dispute.
	State string
	// Metadata is added to every audit entry, such as the provider's ids.
	Metadata map[string]any
}

// Reduced is what ReduceSale found and did.
type Reduced struct {
	// Found is false when no sale has the external id yet.
	Found bool
	// Lost is what the sale has lost to refunds and disputes so far.
	Lost int64
}

// ErrReductionMismatch refuses a reduction that cannot be of its sale.
var ErrReductionMismatch = &Refusal{Kind: Unprocessable, Code: "reduction_mismatch",
	Title: "The refund or dispute does not fit its sale"}

// ReduceSale records r against the sale whose external id is
// saleExternalID and reconciles the sale's commissions, every time: a
// commission earned since the last report (a sale credited late) is
// brought to its share then. Recording the same report twice changes and
// audits nothing.
func ReduceSale(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, saleExternalID string, r Reduction) (Reduced, error) {
	if err := r.validate(); err != nil {
		return Reduced{}, err
	}
	var sale saleRow
	err := tx.QueryRow(ctx, `SELECT id, amount, currency FROM conversions
		WHERE org_id = $1 AND kind = 'sale' AND external_id = $2 FOR UPDATE`, org, saleExternalID).
		Scan(&sale.id, &sale.amount, &sale.currency)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Reduced{}, nil
	case err != nil:
		return Reduced{}, fmt.Errorf("locking sale %s: %w", saleExternalID, db.MapError(err))
	}
	if !strings.EqualFold(sale.currency, r.Currency) {
		return Reduced{}, fmt.Errorf("%w: it is in %s and the sale in %s", ErrReductionMismatch, r.Currency, sale.currency)
	}
	if err := recordReduction(ctx, tx, org, rec, sale, r); err != nil {
		return Reduced{Found: true}, err
	}
	lost, err := saleLost(ctx, tx, org, sale)
	if err != nil {
		return Reduced{Found: true}, err
	}
	return Reduced{Found: true, Lost: lost}, reconcileCommissions(ctx, tx, org, rec, sale, lost, r)
}

func (r Reduction) validate() error {
	var errs FieldErrors
	switch {
	case r.Kind == Refund && r.State != ReductionRefunded,
		r.Kind == Dispute && r.State != DisputeOpen && r.State != DisputeWon && r.State != DisputeLost,
		r.Kind != Refund && r.Kind != Dispute:
		errs.Add("state", fmt.Sprintf("a %s cannot be %q", r.Kind, r.State))
	}
	if !ValidText(r.Source, 1, maxReductionSource) {
		errs.Add("source", fmt.Sprintf("must be 1 to %d characters of text", maxReductionSource))
	}
	if r.Amount <= 0 {
		errs.Add("amount", "must be more than zero")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// saleRow is the sale a reduction is of.
type saleRow struct {
	id       uuid.UUID
	amount   int64
	currency string
}

// recordReduction inserts r or merges it into the record of its source,
// auditing a change (conversion.reduced). A running total only grows; a
// dispute won or lost stays so when a report of it open arrives late. The
// first report of a kind takes the place of the sale's backfilled
// reduction of that kind (adoptBackfilled).
func recordReduction(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, sale saleRow, r Reduction) error {
	var amountWas int64
	var stateWas string
	err := tx.QueryRow(ctx, `SELECT amount, status FROM sale_reductions
		WHERE org_id = $1 AND conversion_id = $2 AND kind = $3 AND source = $4 FOR UPDATE`,
		org, sale.id, r.Kind, r.Source).Scan(&amountWas, &stateWas)
	known := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reading the %s %s: %w", r.Kind, r.Source, db.MapError(err))
	}
	adopted := false
	if !known && (r.SoFar || r.Kind == Dispute) {
		if adopted, amountWas, stateWas, err = adoptBackfilled(ctx, tx, org, sale, r); err != nil {
			return err
		}
	}
	amount, state := r.Amount, r.State
	if known {
		amount = amountWas
		if r.SoFar || r.Kind == Dispute {
			amount = max(amountWas, r.Amount)
		}
		if r.State == DisputeOpen && (stateWas == DisputeWon || stateWas == DisputeLost) {
			state = stateWas
		}
		if amount == amountWas && state == stateWas {
			return nil
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO sale_reductions (org_id, conversion_id, kind, source, amount, currency, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (org_id, conversion_id, kind, source) DO UPDATE SET amount = $5, status = $7, updated_at = now()`,
		org, sale.id, r.Kind, r.Source, amount, sale.currency, state)
	if err != nil {
		return fmt.Errorf("recording the %s %s: %w", r.Kind, r.Source, db.MapError(err))
	}
	meta := map[string]any{"kind": r.Kind, "source": r.Source, "amount": amount, "currency": sale.currency, "state": state,
		"sale_amount": sale.amount}
	if known || adopted {
		meta["amount_was"], meta["state_was"] = amountWas, stateWas
	}
	if adopted {
		meta["replaces"] = backfilledSource
	}
	for k, v := range r.Metadata {
		meta[k] = v
	}
	return rec.Record(ctx, tx, org, "conversion.reduced", "conversion", sale.id.String(), meta, nil)
}

// backfilledSource is the source migration 0020 recorded, for a sale whose
// commissions a refund or dispute had taken back whole before reductions
// were proportional, a reduction of the whole sale under.
const backfilledSource = "before-proportional-reductions"

// adoptBackfilled makes the sale's backfilled reduction of r's kind, if
// there is one, r's own: the first report of that kind after the upgrade
// is what the backfill stood for, and it says what the sale really lost
// (a partial refund, a dispute won), so it replaces the stand-in whole
// amount. It returns whether it did, and the stand-in's amount and state.
// Only a running total (Stripe's amount_refunded, which counts every
// refund of the charge) or a dispute (one per charge) may stand for it:
// the only reductions made before the backfill were Stripe's, and a refund
// reported by its own id may be a new one beside those the backfill holds.
func adoptBackfilled(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale saleRow, r Reduction) (bool, int64, string, error) {
	var amount int64
	var state string
	err := tx.QueryRow(ctx, `UPDATE sale_reductions SET source = $4, updated_at = now()
		WHERE org_id = $1 AND conversion_id = $2 AND kind = $3 AND source = $5 RETURNING amount, status`,
		org, sale.id, r.Kind, r.Source, backfilledSource).Scan(&amount, &state)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, 0, "", nil
	case err != nil:
		return false, 0, "", fmt.Errorf("adopting the sale's backfilled %s: %w", r.Kind, db.MapError(err))
	}
	return true, amount, state, nil
}

// saleLost is what sale has lost: its refunds and its disputes not won,
// at most its amount.
func saleLost(ctx context.Context, tx pgx.Tx, org uuid.UUID, sale saleRow) (int64, error) {
	var lost int64
	err := tx.QueryRow(ctx, `SELECT LEAST($3::numeric, coalesce(sum(amount) FILTER (WHERE status <> 'won'), 0))::bigint
		FROM sale_reductions WHERE org_id = $1 AND conversion_id = $2`, org, sale.id, sale.amount).Scan(&lost)
	return lost, db.Wrap("adding up the sale's refunds and disputes", db.MapError(err))
}

// ShareOf is earned × lost / total, rounded half up, without overflow,
// and never more than earned: the share of earned that lost is of total.
func ShareOf(earned, lost, total int64) int64 {
	if total <= 0 || lost <= 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(earned), big.NewInt(lost))
	n.Mul(n, big.NewInt(2)).Add(n, big.NewInt(total))
	n.Quo(n, new(big.Int).Mul(big.NewInt(total), big.NewInt(2)))
	return min(n.Int64(), earned)
}

// reductionTarget is a commission as reconciling it needs.
type reductionTarget struct {
	c        Commission
	adjusted int64 // the sum of its adjustments
	held     bool  // paid, or in a payout now or before
}

// pays is what the commission pays now: its amount unless reversed, and
// its adjustments.
func (t reductionTarget) pays() int64 {
	if t.c.Status == Reversed {
		return t.adjusted
	}
	return t.c.Amount + t.adjusted
}

// reconcileCommissions brings each commission of sale to pay what it
// earned less its share of lost.
func reconcileCommissions(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, sale saleRow, lost int64, r Reduction) error {
	rows, err := tx.Query(ctx, `SELECT id FROM commissions WHERE org_id = $1 AND conversion_id = $2 ORDER BY created_at, id`, org, sale.id)
	if err != nil {
		return fmt.Errorf("finding the commissions of sale %s: %w", sale.id, db.MapError(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("reading the commissions of sale %s: %w", sale.id, db.MapError(err))
	}
	for _, id := range ids {
		t, err := lockReductionTarget(ctx, tx, org, id)
		if err != nil {
			return err
		}
		if t.c.Status == Reversed && *t.c.ReversedBy == ReversedByAPI {
			continue // reversed through the API, for a reason of its own
		}
		want := t.c.EarnedAmount - ShareOf(t.c.EarnedAmount, lost, sale.amount)
		if t.pays() == want {
			continue
		}
		ch := commissionChange{target: t, want: want, sale: sale, lost: lost, r: r}
		if err := ch.apply(ctx, tx, org, rec); err != nil {
			return err
		}
	}
	return nil
}

func lockReductionTarget(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (reductionTarget, error) {
	c, inPayout, err := lockCommission(ctx, tx, org, id)
	if err != nil {
		return reductionTarget{}, db.Wrap("locking commission "+id.String(), err)
	}
	t := reductionTarget{c: c, held: c.Status == Paid || inPayout}
	err = tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::bigint FROM commission_adjustments
		WHERE org_id = $1 AND commission_id = $2`, org, id).Scan(&t.adjusted)
	return t, db.Wrap("adding up the adjustments of commission "+id.String(), db.MapError(err))
}

// commissionChange brings one commission to pay want.
type commissionChange struct {
	target reductionTarget
	want   int64
	sale   saleRow
	lost   int64
	r      Reduction
}

// reasons are what the commission's reversal and adjustment record:
// "refunded" or "disputed", and "dispute_won" for an adjustment that gives
// back what a dispute took.
func (ch commissionChange) reasons() (reversal, adjustment string) {
	switch {
	case ch.r.Kind == Refund:
		return "refunded", "refunded"
	case ch.r.State == DisputeWon:
		return "disputed", "dispute_won"
	}
	return "disputed", "disputed"
}

// apply changes a commission never paid nor in a payout in place, and
// adjusts one that is or was (a failed payout's items stay as its record,
// so a commission it released is adjusted too); what the change cannot
// hold in place, past what the commission earned, becomes an adjustment.
func (ch commissionChange) apply(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder) error {
	t := ch.target
	meta := ch.metadata()
	action, residue := "commission.clawed_back", ch.want-t.pays()
	if !t.held {
		amount := ch.want - t.adjusted
		var err error
		if action, residue, err = ch.inPlace(ctx, tx, org, amount, meta); err != nil {
			return err
		}
	} else if residue > 0 {
		action = "commission.restored"
	}
	if residue != 0 {
		_, adjustment := ch.reasons()
		id, err := addAdjustment(ctx, tx, org, t.c, residue, adjustment)
		if err != nil {
			return err
		}
		meta["adjustment_id"], meta["adjustment_amount"] = id, residue
	}
	return rec.Record(ctx, tx, org, action, "commission", t.c.ID.String(), meta, nil)
}

// inPlace sets the commission's amount to amount, reversing it at zero or
// less and giving back a commission reversed by a reduction above; it
// returns its audit action and what is left for an adjustment.
func (ch commissionChange) inPlace(ctx context.Context, tx pgx.Tx, org uuid.UUID, amount int64, meta map[string]any) (string, int64, error) {
	c := ch.target.c
	reversal, _ := ch.reasons()
	if amount <= 0 {
		if c.Status != Reversed {
			if _, err := tx.Exec(ctx, `UPDATE commissions SET status = 'reversed', reversed_reason = $3, reversed_by = 'provider', reversed_at = now(),
				earned_amount = $4, updated_at = now() WHERE org_id = $1 AND id = $2`, org, c.ID, reversal, c.EarnedAmount); err != nil {
				return "", 0, fmt.Errorf("reversing commission %s: %w", c.ID, db.MapError(err))
			}
		}
		meta["amount"], meta["status"] = c.Amount, Reversed
		return "commission.reversed", amount, nil
	}
	residue := max(amount-c.EarnedAmount, 0)
	amount -= residue
	_, err := tx.Exec(ctx, `UPDATE commissions SET amount = $3, earned_amount = $4, updated_at = now(),
		status = CASE WHEN status <> 'reversed' THEN status WHEN approved_at IS NULL THEN 'pending' ELSE 'approved' END,
		reversed_reason = NULL, reversed_by = NULL, reversed_at = NULL
		WHERE org_id = $1 AND id = $2`, org, c.ID, amount, c.EarnedAmount)
	if err != nil {
		return "", 0, fmt.Errorf("changing the amount of commission %s: %w", c.ID, db.MapError(err))
	}
	meta["amount"] = amount
	if ch.want > ch.target.pays() {
		return "commission.restored", residue, nil
	}
	return "commission.reduced", residue, nil
}

// metadata is what every entry of the change says.
func (ch commissionChange) metadata() map[string]any {
	c := ch.target.c
	meta := map[string]any{"kind": ch.r.Kind, "source": ch.r.Source, "state": ch.r.State,
		"sale_amount": ch.sale.amount, "sale_lost": ch.lost, "earned": c.EarnedAmount,
		"pays_was": ch.target.pays(), "pays": ch.want, "amount_was": c.Amount, "status_was": c.Status,
		"currency": c.Currency, "affiliate_id": c.AffiliateID, "conversion_id": c.ConversionID}
	for k, v := range ch.r.Metadata {
		meta[k] = v
	}
	return meta
}

// addAdjustment records an adjustment of amount to commission c.
func addAdjustment(ctx context.Context, tx pgx.Tx, org uuid.UUID, c Commission, amount int64, reason string) (uuid.UUID, error) {
	var id uuid.UUID
	err := tx.QueryRow(ctx, `INSERT INTO commission_adjustments (org_id, commission_id, affiliate_id, amount, currency, reason)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, org, c.ID, c.AffiliateID, amount, c.Currency, reason).Scan(&id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("adjusting commission %s: %w", c.ID, db.MapError(err))
	}
	return id, nil
}
