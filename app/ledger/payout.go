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
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/storable"
)

// A payout pays one affiliate, in one currency, the approved commissions
// no payout holds, less the clawbacks no payout has settled. It is created
// pending (CreatePayout), marked dispatched when sent to its provider
// (StartDispatch), and settled paid or failed by the provider's answer
// (SettlePayout); a failed payout releases its commissions for the next.

// PayoutProvider is how a payout moves the money, as stored in
// payouts.provider.
type PayoutProvider string

const (
	// ProviderManual: the merchant pays outside Rekomi and marks it paid.
	ProviderManual PayoutProvider = "manual"
	// ProviderStripeConnect: a transfer to the affiliate's Stripe connected
	// account, from the organization's own Stripe key.
	ProviderStripeConnect PayoutProvider = "stripe_connect"
)

// Valid says whether p is a provider a payout may use.
func (p PayoutProvider) Valid() bool { return p == ProviderManual || p == ProviderStripeConnect }

// PayoutStatus is where a payout stands.
type PayoutStatus string

const (
	// PayoutPending: created, not sent.
	PayoutPending PayoutStatus = "pending"
	// PayoutDispatched: sent to its provider, which has not answered yet.
	PayoutDispatched PayoutStatus = "dispatched"
	// PayoutPaid: the provider moved the money.
	PayoutPaid PayoutStatus = "paid"
	// PayoutFailed: the provider refused for good; its commissions were
	// released.
	PayoutFailed PayoutStatus = "failed"
)

// Payout is a payout as the API shows it: Amount, in minor units of
// Currency, is the sum of its items (commissions) and its deductions
// (clawbacks of commissions paid before, negative). Both are listed on a
// single payout and left out of lists.
type Payout struct {
	Object        string         `json:"object"`
	ID            uuid.UUID      `json:"id"`
	AffiliateID   uuid.UUID      `json:"affiliate_id"`
	Amount        int64          `json:"amount"`
	Currency      string         `json:"currency"`
	Provider      PayoutProvider `json:"provider"`
	Status        PayoutStatus   `json:"status"`
	ProviderRef   *string        `json:"provider_ref"`
	FailureReason *string        `json:"failure_reason"`
	Items         []PayoutItem   `json:"items,omitempty"`
	Deductions    []PayoutItem   `json:"deductions,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	DispatchedAt  *time.Time     `json:"dispatched_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// PayoutItem is one commission a payout pays, or one clawback it deducts.
type PayoutItem struct {
	CommissionID uuid.UUID `json:"commission_id"`
	Amount       int64     `json:"amount"`
}

const payoutColumns = `id, affiliate_id, amount, currency, provider, status, provider_ref, failure_reason,
	created_at, dispatched_at, updated_at`

// withItems reads the payout's items and deductions, ordered by commission
// id.
func withItems(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, p Payout) (Payout, error) {
	rows, err := tx.Query(ctx, `SELECT commission_id, amount FROM payout_items WHERE org_id = $1 AND payout_id = $2
		ORDER BY commission_id`, orgID, p.ID)
	if err != nil {
		return p, fmt.Errorf("reading the payout's items: %w", db.MapError(err))
	}
	p.Items, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PayoutItem])
	if err != nil {
		return p, fmt.Errorf("reading the payout's items: %w", db.MapError(err))
	}
	rows, err = tx.Query(ctx, `SELECT a.commission_id, d.amount FROM payout_deductions d
		JOIN commission_adjustments a ON a.org_id = d.org_id AND a.id = d.adjustment_id
		WHERE d.org_id = $1 AND d.payout_id = $2 ORDER BY a.commission_id`, orgID, p.ID)
	if err != nil {
		return p, fmt.Errorf("reading the payout's deductions: %w", db.MapError(err))
	}
	p.Deductions, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PayoutItem])
	if err != nil {
		return p, fmt.Errorf("reading the payout's deductions: %w", db.MapError(err))
	}
	return p, nil
}

// readPayout reads one payout with its items, locked when forUpdate.
func readPayout(ctx context.Context, tx pgx.Tx, orgID, id uuid.UUID, forUpdate bool) (Payout, error) {
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

// GetPayout reads payout id of org with its items, or db.ErrNotFound.
func GetPayout(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Payout, error) {
	return readPayout(ctx, tx, org, id, false)
}

// PayoutFilter keeps the payouts of one affiliate, in one status, or both;
// nil keeps all.
type PayoutFilter struct {
	AffiliateID *uuid.UUID
	Status      *PayoutStatus
}

// ListPayouts reads a page of org's payouts that f keeps, without their
// items.
func ListPayouts(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, f PayoutFilter) (List[Payout], error) {
	q := Query[Payout]{Table: "payouts", Columns: payoutColumns, Scan: scanPayout,
		Where: `($4::uuid IS NULL OR affiliate_id = $4) AND ($5::text IS NULL OR status = $5)`}
	return ListPage(ctx, tx, org, q, p, f.AffiliateID, f.Status)
}

// NewPayout is a payout to create.
type NewPayout struct {
	AffiliateID uuid.UUID
	Currency    string
	Provider    PayoutProvider
}

// CreatePayout creates the payout of what the affiliate is owed in the
// currency, and audits it (payout.created). It refuses an affiliate that
// does not exist or that the provider cannot pay (FieldErrors), a payout
// below the campaigns' minimum or over the organization's limits
// (Refusal). Payouts of one affiliate are created one at a time, and
// those of one organization are checked against its limits one at a
// time.
func CreatePayout(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, in NewPayout) (Payout, error) {
	if err := lockPayee(ctx, tx, org, in.AffiliateID, in.Provider); err != nil {
		return Payout{}, err
	}
	due, err := collectPayable(ctx, tx, org, in.AffiliateID, in.Currency)
	if err != nil {
		return Payout{}, err
	}
	if err := due.check(in.Currency); err != nil {
		return Payout{}, err
	}
	if err := checkPayoutLimits(ctx, tx, org, in.Currency, due.net()); err != nil {
		return Payout{}, err
	}
	created, err := insertPayout(ctx, tx, org, in.AffiliateID, in.Currency, in.Provider, due)
	if err != nil {
		return Payout{}, err
	}
	return created, rec.Record(ctx, tx, org, "payout.created", "payout", created.ID.String(),
		map[string]any{"amount": created.Amount, "currency": created.Currency, "commission_count": len(due.ids),
			"deduction_count": len(due.deductions), "provider": created.Provider, "affiliate_id": in.AffiliateID.String()}, nil)
}

// NoStripeKeyDetail says why an organization cannot use Stripe Connect.
const NoStripeKeyDetail = "the organization has no Stripe key: its Organization must name one in spec.stripe.secretKeyRef " +
	"(ask the platform administrator); until then only manual payouts are possible"

// lockPayee locks the affiliate's row, which serializes payouts of one
// affiliate, and checks it can be paid through provider: through Stripe
// Connect, the organization needs its own Stripe key and the affiliate a
// connected account.
func lockPayee(ctx context.Context, tx pgx.Tx, org, affiliateID uuid.UUID, provider PayoutProvider) error {
	var account *string
	err := tx.QueryRow(ctx, `SELECT stripe_account_id FROM affiliates WHERE org_id = $1 AND id = $2 FOR UPDATE`,
		org, affiliateID).Scan(&account)
	if err = db.MapError(err); errors.Is(err, db.ErrNotFound) {
		return FieldErrors{{Field: "affiliate_id", Detail: "no such affiliate"}}
	}
	if err != nil {
		return fmt.Errorf("locking the affiliate: %w", err)
	}
	if provider != ProviderStripeConnect {
		return nil
	}
	has, err := hasStripeKey(ctx, tx, org)
	if err != nil {
		return err
	}
	if !has {
		return FieldErrors{{Field: "provider", Detail: NoStripeKeyDetail}}
	}
	if account == nil {
		return FieldErrors{{Field: "provider", Detail: "the affiliate has no Stripe connected account (stripe_account_id); connect one or use manual"}}
	}
	return nil
}

// hasStripeKey reports whether the organization's row holds a Stripe key,
// without opening it.
func hasStripeKey(ctx context.Context, tx pgx.Tx, org uuid.UUID) (bool, error) {
	var has bool
	err := tx.QueryRow(ctx, `SELECT stripe_secret_key_sealed IS NOT NULL FROM organizations WHERE id = $1`, org).Scan(&has)
	if err != nil {
		return false, fmt.Errorf("reading whether the organization has a Stripe key: %w", db.MapError(err))
	}
	return has, nil
}

// payable is what a new payout would pay: the approved commissions of one
// affiliate in one currency that no payout holds, less the clawbacks of
// that affiliate in that currency that no payout has settled yet, plus
// what disputes won gave back.
type payable struct {
	ids        []uuid.UUID
	total      int64 // the commissions' sum
	deductions []uuid.UUID
	deducted   int64 // the adjustments' sum: clawbacks less, what disputes won gave back more
	minimum    int64 // the highest min_payout_amount among their campaigns
}

// net is what the payout pays.
func (due payable) net() int64 { return due.total + due.deducted }

// collectPayable first approves the affiliate's commissions in currency
// whose hold has passed, then locks and sums the approved ones no payout
// holds.
func collectPayable(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, currency string) (payable, error) {
	if _, err := ApproveDueCommissions(ctx, tx, orgID, affiliateID, currency); err != nil {
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
			return FieldErrors{{Field: "currency", Detail: "the payable commissions add up to more than a payout can hold"}}
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

// collectDeductions adds to due the affiliate's adjustments in currency
// that no payout, other than a failed one, has settled: clawbacks, and
// what a dispute won gives back, which a payout pays even with no
// commission beside it (then under the minimum of the adjusted
// commissions' campaigns). The caller holds the affiliate's row lock, so no other
// payout can take them meanwhile.
func collectDeductions(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, currency string, due *payable) error {
	rows, err := tx.Query(ctx, `SELECT a.id, a.amount, k.min_payout_amount FROM commission_adjustments a
		JOIN commissions c ON c.org_id = a.org_id AND c.id = a.commission_id
		JOIN campaigns k ON k.org_id = c.org_id AND k.id = c.campaign_id
		WHERE a.org_id = $1 AND a.affiliate_id = $2 AND a.currency = $3
		AND NOT EXISTS (SELECT 1 FROM payout_deductions d JOIN payouts p ON p.org_id = d.org_id AND p.id = d.payout_id
			WHERE d.org_id = a.org_id AND d.adjustment_id = a.id AND p.status <> 'failed')
		ORDER BY a.created_at, a.id`, orgID, affiliateID, currency)
	if err != nil {
		return fmt.Errorf("selecting outstanding clawbacks: %w", db.MapError(err))
	}
	var id uuid.UUID
	var amount, minimum int64
	_, err = pgx.ForEachRow(rows, []any{&id, &amount, &minimum}, func() error {
		due.deductions = append(due.deductions, id)
		due.deducted += amount
		if amount > 0 && due.total == 0 {
			due.minimum = max(due.minimum, minimum)
		}
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
		return &Refusal{Kind: Unprocessable, Code: "below_minimum_payout",
			Title: "The affiliate's payable commissions are below the minimum payout", Detail: detail}
	}
	if due.total == 0 && due.deducted <= 0 {
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
		return &Refusal{Kind: Unprocessable, Code: "payout_limit_exceeded",
			Title: "The payout is over the organization's payout limit", Detail: detail}
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
func insertPayout(ctx context.Context, tx pgx.Tx, orgID, affiliateID uuid.UUID, currency string, provider PayoutProvider, due payable) (Payout, error) {
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

func scanPayout(row pgx.Row) (Payout, error) {
	p := Payout{Object: "payout"}
	err := row.Scan(&p.ID, &p.AffiliateID, &p.Amount, &p.Currency, &p.Provider, &p.Status, &p.ProviderRef,
		&p.FailureReason, &p.CreatedAt, &p.DispatchedAt, &p.UpdatedAt)
	return p, db.MapError(err)
}

// StartDispatch locks payout id, checks it may be sent, and marks a
// pending one dispatched (audited as payout.dispatched, with the
// destination masked). It returns the payout and the affiliate's account
// at its provider (the Stripe connected account; "" for a manual payout).
// A dispatched payout (a transient failure before) is returned unchanged,
// to be sent again.
func StartDispatch(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (Payout, string, error) {
	po, err := scanPayout(tx.QueryRow(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
	if err != nil {
		return Payout{}, "", err
	}
	if po.Status == PayoutPaid || po.Status == PayoutFailed {
		return Payout{}, "", conflict("The payout is already "+string(po.Status), "only a pending or dispatched payout can be dispatched")
	}
	destination, err := payoutDestination(ctx, tx, org, po)
	if err != nil || po.Status != PayoutPending {
		return po, destination, err
	}
	if _, err := tx.Exec(ctx, `UPDATE payouts SET status = 'dispatched', dispatched_at = now(), updated_at = now()
		WHERE org_id = $1 AND id = $2`, org, id); err != nil {
		return Payout{}, "", fmt.Errorf("marking the payout dispatched: %w", db.MapError(err))
	}
	metadata := map[string]any{"provider": po.Provider, "amount": po.Amount, "currency": po.Currency}
	if destination != "" {
		metadata["destination"] = MaskAccount(destination)
	}
	return po, destination, rec.Record(ctx, tx, org, "payout.dispatched", "payout", id.String(), metadata, nil)
}

// payoutDestination is the affiliate's account at the payout's provider:
// the Stripe connected account, or nothing for a manual payout.
func payoutDestination(ctx context.Context, tx pgx.Tx, org uuid.UUID, po Payout) (string, error) {
	if po.Provider != ProviderStripeConnect {
		return "", nil
	}
	var account *string
	if err := tx.QueryRow(ctx, `SELECT stripe_account_id FROM affiliates WHERE org_id = $1 AND id = $2`,
		org, po.AffiliateID).Scan(&account); err != nil {
		return "", fmt.Errorf("reading the affiliate's Stripe account: %w", db.MapError(err))
	}
	if account == nil {
		return "", &Refusal{Kind: Unprocessable, Code: "payout_account_missing", Title: "The affiliate has no Stripe connected account",
			Detail: "connect the affiliate's account (stripe_account_id), then dispatch again"}
	}
	return *account, nil
}

// Outcome is a provider's definitive answer to a transfer.
type Outcome struct {
	Ref           string // the provider's reference, when paid
	FailureReason string // why it refused, when failed
	Failed        bool
}

// SettlePayout records the provider's answer on dispatched payout id: paid
// with its reference and its commissions paid, or failed with the reason
// and its commissions released for a later payout; audited as payout.paid
// or payout.failed. Its items stay as the record of the attempt. A payout
// a concurrent dispatch settled first is returned as it is.
func SettlePayout(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, o Outcome) (Payout, error) {
	po, err := readPayout(ctx, tx, org, id, true)
	if err != nil || po.Status != PayoutDispatched {
		return po, err
	}
	if o.Failed {
		po, err = failPayout(ctx, tx, org, rec, id, storable.Text(o.FailureReason, 1000))
	} else {
		po, err = payPayout(ctx, tx, org, rec, id, o.Ref)
	}
	if err != nil {
		return po, err
	}
	return withItems(ctx, tx, org, po)
}

// failPayout marks payout id failed for reason and releases its
// commissions.
func failPayout(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, reason string) (Payout, error) {
	released, err := tx.Exec(ctx, `UPDATE commissions SET payout_id = NULL, updated_at = now() WHERE org_id = $1 AND payout_id = $2`, org, id)
	if err != nil {
		return Payout{}, fmt.Errorf("releasing the payout's commissions: %w", db.MapError(err))
	}
	po, err := scanPayout(tx.QueryRow(ctx, `UPDATE payouts SET status = 'failed', failure_reason = $3, updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+payoutColumns, org, id, reason))
	if err != nil {
		return po, fmt.Errorf("marking the payout failed: %w", err)
	}
	return po, rec.Record(ctx, tx, org, "payout.failed", "payout", id.String(),
		map[string]any{"failure_reason": reason, "commissions_released": released.RowsAffected()}, nil)
}

// payPayout marks payout id paid with the provider's reference, and its
// commissions paid.
func payPayout(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, ref string) (Payout, error) {
	if _, err := tx.Exec(ctx, `UPDATE commissions SET status = 'paid', paid_at = now(), updated_at = now()
		WHERE org_id = $1 AND payout_id = $2 AND status = 'approved'`, org, id); err != nil {
		return Payout{}, fmt.Errorf("marking the payout's commissions paid: %w", db.MapError(err))
	}
	po, err := scanPayout(tx.QueryRow(ctx, `UPDATE payouts SET status = 'paid', provider_ref = $3, updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+payoutColumns, org, id, storable.Text(ref, 255)))
	if err != nil {
		return po, fmt.Errorf("marking the payout paid: %w", err)
	}
	return po, rec.Record(ctx, tx, org, "payout.paid", "payout", id.String(), map[string]any{"provider_ref": ref}, nil)
}

// MaskAccount shows enough of a provider account id to tell accounts apart
// in the audit log ("acct_…3C4d") without writing it out whole.
func MaskAccount(account string) string {
	const shown = 4
	prefix, rest, ok := strings.Cut(account, "_")
	if !ok {
		prefix, rest = "", account
	} else {
		prefix += "_"
	}
	if len(rest) <= shown {
		return prefix + "…"
	}
	return prefix + "…" + rest[len(rest)-shown:]
}
