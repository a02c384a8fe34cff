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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/payout"
)

// payoutObject is a payout as the API shows it: Amount, in minor units of
// Currency, is the sum of its items (commissions) and its deductions
// (clawbacks of commissions paid before, negative). Both are listed on a
// single payout and left out of lists.
type payoutObject struct {
	Object        string       `json:"object"`
	ID            uuid.UUID    `json:"id"`
	AffiliateID   uuid.UUID    `json:"affiliate_id"`
	Amount        int64        `json:"amount"`
	Currency      string       `json:"currency"`
	Provider      string       `json:"provider"`
	Status        string       `json:"status"`
	ProviderRef   *string      `json:"provider_ref"`
	FailureReason *string      `json:"failure_reason"`
	Items         []payoutItem `json:"items,omitempty"`
	Deductions    []payoutItem `json:"deductions,omitempty"`
	CreatedAt     time.Time    `json:"created_at"`
	DispatchedAt  *time.Time   `json:"dispatched_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
}

// payoutItem is one commission a payout pays.
type payoutItem struct {
	CommissionID uuid.UUID `json:"commission_id"`
	Amount       int64     `json:"amount"`
}

const payoutColumns = `id, affiliate_id, amount, currency, provider, status, provider_ref, failure_reason,
	created_at, dispatched_at, updated_at`

// Payout statuses.
const (
	payoutPending    = "pending"
	payoutDispatched = "dispatched"
	payoutPaid       = "paid"
	payoutFailed     = "failed"
)

// providerTimeout bounds one call to a payout provider.
const providerTimeout = 20 * time.Second

func scanPayout(row pgx.Row) (payoutObject, error) {
	p := payoutObject{Object: "payout"}
	err := row.Scan(&p.ID, &p.AffiliateID, &p.Amount, &p.Currency, &p.Provider, &p.Status, &p.ProviderRef,
		&p.FailureReason, &p.CreatedAt, &p.DispatchedAt, &p.UpdatedAt)
	return p, db.MapError(err)
}

// withItems reads the payout's items and deductions, ordered by commission
// id.
func withItems(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, p payoutObject) (payoutObject, error) {
	rows, err := tx.Query(ctx, `SELECT commission_id, amount FROM payout_items WHERE org_id = $1 AND payout_id = $2
		ORDER BY commission_id`, orgID, p.ID)
	if err != nil {
		return p, fmt.Errorf("reading the payout's items: %w", db.MapError(err))
	}
	p.Items, err = pgx.CollectRows(rows, pgx.RowToStructByPos[payoutItem])
	if err != nil {
		return p, fmt.Errorf("reading the payout's items: %w", db.MapError(err))
	}
	rows, err = tx.Query(ctx, `SELECT a.commission_id, d.amount FROM payout_deductions d
		JOIN commission_adjustments a ON a.org_id = d.org_id AND a.id = d.adjustment_id
		WHERE d.org_id = $1 AND d.payout_id = $2 ORDER BY a.commission_id`, orgID, p.ID)
	if err != nil {
		return p, fmt.Errorf("reading the payout's deductions: %w", db.MapError(err))
	}
	p.Deductions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[payoutItem])
	if err != nil {
		return p, fmt.Errorf("reading the payout's deductions: %w", db.MapError(err))
	}
	return p, nil
}

// readPayout reads one payout with its items, locked when forUpdate.
func readPayout(ctx context.Context, tx pgx.Tx, orgID, id uuid.UUID, forUpdate bool) (payoutObject, error) {
	q := `SELECT ` + payoutColumns + ` FROM payouts WHERE org_id = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	p, err := scanPayout(tx.QueryRow(ctx, q, orgID, id))
	if err != nil {
		return p, err
	}
	return withItems(ctx, tx, orgID, p)
}

// payoutInput is the body of POST /v1/payouts.
type payoutInput struct {
	AffiliateID *string `json:"affiliate_id"`
	Currency    *string `json:"currency"`
	Provider    *string `json:"provider"`
}

// validate checks the body and returns the affiliate id it names.
func (s *Server) validatePayout(in payoutInput) (uuid.UUID, []ledger.FieldError) {
	var errs []ledger.FieldError
	bad := func(field, detail string) { errs = append(errs, ledger.FieldError{Field: field, Detail: detail}) }
	var affiliateID uuid.UUID
	if in.AffiliateID == nil {
		bad("affiliate_id", "is required")
	} else if id, err := uuid.Parse(*in.AffiliateID); err != nil {
		bad("affiliate_id", "must be an affiliate id")
	} else {
		affiliateID = id
	}
	switch {
	case in.Currency == nil:
		bad("currency", "is required")
	case !ledger.ValidCurrency(*in.Currency):
		bad("currency", "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	switch {
	case in.Provider == nil:
		bad("provider", "is required")
	case *in.Provider != payout.NameStripeConnect && *in.Provider != payout.NameManual:
		bad("provider", "must be stripe_connect or manual")
	}
	return affiliateID, errs
}

func (s *Server) createPayout(w http.ResponseWriter, r *http.Request) {
	var in payoutInput
	if !decodeJSON(w, r, &in) {
		return
	}
	affiliateID, errs := s.validatePayout(in)
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "creating a payout", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		if err := lockPayee(ctx, tx, p.OrgID, affiliateID, *in.Provider); err != nil {
			return 0, nil, err
		}
		due, err := collectPayable(ctx, tx, p.OrgID, affiliateID, *in.Currency)
		if err != nil {
			return 0, nil, err
		}
		if err := due.check(*in.Currency); err != nil {
			return 0, nil, err
		}
		if err := checkPayoutLimits(ctx, tx, p.OrgID, *in.Currency, due.net()); err != nil {
			return 0, nil, err
		}
		created, err := insertPayout(ctx, tx, p.OrgID, affiliateID, *in.Currency, *in.Provider, due)
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "payout.created", "payout", created.ID.String(),
			map[string]any{"amount": created.Amount, "currency": created.Currency, "commission_count": len(due.ids), "deduction_count": len(due.deductions),
				"provider": created.Provider, "affiliate_id": affiliateID.String()}))
		return http.StatusCreated, created, err
	})
}

// lockPayee locks the affiliate's row, which serializes payouts of one
// affiliate, and checks it can be paid through provider: through Stripe
// Connect, the organization needs its own Stripe key and the affiliate a
// connected account.
func lockPayee(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, provider string) error {
	var account *string
	err := tx.QueryRow(ctx, `SELECT stripe_account_id FROM affiliates WHERE org_id = $1 AND id = $2 FOR UPDATE`,
		orgID, affiliateID).Scan(&account)
	if err = db.MapError(err); errors.Is(err, db.ErrNotFound) {
		return ledger.FieldErrors{{Field: "affiliate_id", Detail: "no such affiliate"}}
	}
	if err != nil {
		return fmt.Errorf("locking the affiliate: %w", err)
	}
	if provider != payout.NameStripeConnect {
		return nil
	}
	has, err := hasStripeKey(ctx, tx, orgID)
	if err != nil {
		return err
	}
	if !has {
		return ledger.FieldErrors{{Field: "provider", Detail: noStripeKeyDetail}}
	}
	if account == nil {
		return ledger.FieldErrors{{Field: "provider", Detail: "the affiliate has no Stripe connected account (stripe_account_id); connect one or use manual"}}
	}
	return nil
}

// payable is what a new payout would pay: the approved commissions of one
// affiliate in one currency that no payout holds, less the clawbacks of
// that affiliate in that currency that no payout has settled yet.
type payable struct {
	ids        []uuid.UUID
	total      int64 // the commissions' sum
	deductions []uuid.UUID
	deducted   int64 // the clawbacks' sum, 0 or less
	minimum    int64 // the highest min_payout_amount among their campaigns
}

// net is what the payout pays.
func (due payable) net() int64 { return due.total + due.deducted }

// collectPayable first approves the affiliate's commissions in currency
// whose hold has passed, then locks and sums the approved ones no payout
// holds.
func collectPayable(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, currency string) (payable, error) {
	if _, err := ledger.ApproveDueCommissions(ctx, tx, orgID, affiliateID, currency); err != nil {
		return payable{}, err
	}
	rows, err := tx.Query(ctx, `SELECT c.id, c.amount, k.min_payout_amount FROM commissions c
		JOIN campaigns k ON k.org_id = c.org_id AND k.id = c.campaign_id
		WHERE c.org_id = $1 AND c.affiliate_id = $2 AND c.currency = $3 AND c.status = 'approved' AND c.payout_id IS NULL
		ORDER BY c.created_at, c.id FOR UPDATE OF c`, orgID, affiliateID, currency)
	if err != nil {
		return payable{}, fmt.Errorf("selecting payable commissions: %w", db.MapError(err))
	}
	var due payable
	var id uuid.UUID
	var amount, minimum int64
	_, err = pgx.ForEachRow(rows, []any{&id, &amount, &minimum}, func() error {
		if due.total > (1<<63-1)-amount {
			return ledger.FieldErrors{{Field: "currency", Detail: "the payable commissions add up to more than a payout can hold"}}
		}
		due.ids = append(due.ids, id)
		due.total += amount
		due.minimum = max(due.minimum, minimum)
		return nil
	})
	if err != nil {
		return payable{}, fmt.Errorf("selecting payable commissions: %w", db.MapError(err))
	}
	return due, collectDeductions(ctx, tx, orgID, affiliateID, currency, &due)
}

// collectDeductions adds to due the affiliate's clawbacks in currency that
// no payout, other than a failed one, has deducted. The caller holds the
// affiliate's row lock, so no other payout can take them meanwhile.
func collectDeductions(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, currency string, due *payable) error {
	rows, err := tx.Query(ctx, `SELECT a.id, a.amount FROM commission_adjustments a
		WHERE a.org_id = $1 AND a.affiliate_id = $2 AND a.currency = $3
		AND NOT EXISTS (SELECT 1 FROM payout_deductions d JOIN payouts p ON p.org_id = d.org_id AND p.id = d.payout_id
			WHERE d.org_id = a.org_id AND d.adjustment_id = a.id AND p.status <> 'failed')
		ORDER BY a.created_at, a.id`, orgID, affiliateID, currency)
	if err != nil {
		return fmt.Errorf("selecting outstanding clawbacks: %w", db.MapError(err))
	}
	var id uuid.UUID
	var amount int64
	_, err = pgx.ForEachRow(rows, []any{&id, &amount}, func() error {
		due.deductions = append(due.deductions, id)
		due.deducted += amount
		return nil
	})
	if err != nil {
		return fmt.Errorf("selecting outstanding clawbacks: %w", db.MapError(err))
	}
	return nil
}

// check refuses a payout of nothing or of less than the minimum.
func (due payable) check(currency string) error {
	refuse := func(detail string) error {
		return problemError{Problem{Type: "below_minimum_payout", Status: http.StatusUnprocessableEntity,
			Title: "The affiliate's payable commissions are below the minimum payout", Detail: detail}}
	}
	if due.total == 0 {
		return refuse(fmt.Sprintf("the affiliate has no approved %s commissions that are not already in a payout", currency))
	}
	if due.net() > 0 && due.net() >= due.minimum {
		return nil
	}
	payableText := fmt.Sprintf("%d %s is payable", max(due.net(), 0), currency)
	if due.deducted < 0 {
		payableText += fmt.Sprintf(" (%d %s of commissions less %d %s of clawbacks)", due.total, currency, -due.deducted, currency)
	}
	return refuse(fmt.Sprintf("%s; the minimum is %d %s, the highest min_payout_amount among the campaigns of these commissions",
		payableText, due.minimum, currency))
}

// payoutLockSQL serializes the organization's payouts for the rest of the
// transaction; payoutLimitSQL, run after it (so that its snapshot holds
// every payout committed before the lock was granted), reads the limits and
// what the organization's payouts in the currency have paid, or are
// paying, over the last 24 hours.
const (
	payoutLockSQL  = `SELECT pg_advisory_xact_lock(hashtextextended('rekomi.payouts:' || $1::text, 0))`
	payoutLimitSQL = `
SELECT o.payout_limit_per_payout, o.payout_limit_per_day,
       (SELECT coalesce(sum(p.amount), 0) FROM payouts p
         WHERE p.org_id = o.id AND p.currency = $2 AND p.status <> 'failed'
           AND p.created_at > now() - interval '24 hours')
  FROM organizations o
 WHERE o.id = $1`
)

// checkPayoutLimits refuses a payout of amount in currency that is more than
// the organization's limit per payout, or that would take its payouts in
// that currency over the last 24 hours past its daily limit. The
// transaction must be READ COMMITTED, as db.TenantTx's are.
func checkPayoutLimits(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, currency string, amount int64) error {
	if _, err := tx.Exec(ctx, payoutLockSQL, orgID); err != nil {
		return fmt.Errorf("serializing the organization's payouts: %w", db.MapError(err))
	}
	var perPayout, perDay, spent int64
	if err := tx.QueryRow(ctx, payoutLimitSQL, orgID, currency).Scan(&perPayout, &perDay, &spent); err != nil {
		return fmt.Errorf("reading the payout limits: %w", db.MapError(err))
	}
	refuse := func(detail string) error {
		return problemError{Problem{Type: "payout_limit_exceeded", Status: http.StatusUnprocessableEntity,
			Title: "The payout is over the organization's payout limit", Detail: detail}}
	}
	if amount > perPayout {
		return refuse(fmt.Sprintf("%d %s is payable; one payout may pay at most %d %s", amount, currency, perPayout, currency))
	}
	if spent+amount > perDay {
		return refuse(fmt.Sprintf("payouts have paid or are paying %d %s over the last 24 hours; with %d %s more they would pass the limit of %d %s",
			spent, currency, amount, currency, perDay, currency))
	}
	return nil
}

// insertPayout writes the payout and its items and marks the commissions
// as held by it.
func insertPayout(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, currency, provider string, due payable) (payoutObject, error) {
	created, err := scanPayout(tx.QueryRow(ctx, `INSERT INTO payouts (org_id, affiliate_id, amount, currency, provider)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+payoutColumns, orgID, affiliateID, due.net(), currency, provider))
	if err != nil {
		return created, fmt.Errorf("inserting the payout: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payout_items (org_id, payout_id, commission_id, amount, currency)
		SELECT org_id, $2, id, amount, currency FROM commissions WHERE org_id = $1 AND id = ANY($3)`,
		orgID, created.ID, due.ids); err != nil {
		return created, fmt.Errorf("inserting the payout's items: %w", db.MapError(err))
	}
	if _, err := tx.Exec(ctx, `UPDATE commissions SET payout_id = $2, updated_at = now() WHERE org_id = $1 AND id = ANY($3)`,
		orgID, created.ID, due.ids); err != nil {
		return created, fmt.Errorf("assigning the commissions to the payout: %w", db.MapError(err))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payout_deductions (org_id, payout_id, adjustment_id, amount, currency)
		SELECT org_id, $2, id, amount, currency FROM commission_adjustments WHERE org_id = $1 AND id = ANY($3)`,
		orgID, created.ID, due.deductions); err != nil {
		return created, fmt.Errorf("recording the payout's deductions: %w", db.MapError(err))
	}
	return withItems(ctx, tx, orgID, created)
}

func (s *Server) getPayout(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a payout", func(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (payoutObject, error) {
		return readPayout(ctx, tx, org, id, false)
	})
}

// payoutFilter is the query of GET /v1/payouts.
type payoutFilter struct {
	affiliateID *uuid.UUID
	status      *string
}

func parsePayoutFilter(w http.ResponseWriter, r *http.Request) (payoutFilter, bool) {
	var f payoutFilter
	var errs []ledger.FieldError
	q := r.URL.Query()
	if v := q.Get("affiliate_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs = append(errs, ledger.FieldError{Field: "affiliate_id", Detail: "must be an affiliate id"})
		}
		f.affiliateID = &id
	}
	if v := q.Get("status"); v != "" {
		switch v {
		case payoutPending, payoutDispatched, payoutPaid, payoutFailed:
		default:
			errs = append(errs, ledger.FieldError{Field: "status", Detail: "must be pending, dispatched, paid or failed"})
		}
		f.status = &v
	}
	if len(errs) > 0 {
		writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid query", Status: http.StatusBadRequest, Errors: errs})
		return f, false
	}
	return f, true
}

func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	f, ok := parsePayoutFilter(w, r)
	if !ok {
		return
	}
	s.list(w, r, "listing payouts", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPage(ctx, tx, org, ledger.Query[payoutObject]{Table: "payouts", Columns: payoutColumns, Where: `($4::uuid IS NULL OR affiliate_id = $4) AND ($5::text IS NULL OR status = $5)`, Scan: scanPayout}, page, f.affiliateID, f.status)
	})
}

// jsonAnswer encodes v as a stored or written answer.
func jsonAnswer(status int, v any) (response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return response{}, fmt.Errorf("encoding the answer: %w", err)
	}
	return response{status: status, contentType: "application/json", body: append(body, '\n')}, nil
}

// sanitizeReason fits a provider's failure reason in payouts.failure_reason.
func sanitizeReason(reason string) string {
	return strings.ToValidUTF8(truncate(reason, 1000), "")
}
