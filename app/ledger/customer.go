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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Customer is a merchant's customer as tracking recorded it, with the
// referral it is attributed to, if any. A self-referral is attributed but
// earns no commission.
type Customer struct {
	Object      string     `json:"object"`
	ID          uuid.UUID  `json:"id"`
	ExternalID  *string    `json:"external_id"`
	Email       *string    `json:"email"`
	AffiliateID *uuid.UUID `json:"affiliate_id"`
	LinkID      *uuid.UUID `json:"link_id"`
	ClickID     *int64     `json:"click_id"`
	PromoCodeID *uuid.UUID `json:"promo_code_id"`
	// AttributedBy is the signal that attributed the customer: "click",
	// "link_code" or "promo_code"; nil while it is not attributed.
	AttributedBy *string    `json:"attributed_by"`
	AttributedAt *time.Time `json:"attributed_at"`
	SelfReferral bool       `json:"self_referral"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// attributedBySQL names the signal that attributed a customer from the
// references it keeps.
const attributedBySQL = `(CASE WHEN affiliate_id IS NULL THEN NULL WHEN promo_code_id IS NOT NULL THEN 'promo_code'
	WHEN click_id IS NOT NULL THEN 'click' ELSE 'link_code' END)`

const customerColumns = `id, external_id, email, affiliate_id, link_id, click_id, promo_code_id, ` + attributedBySQL + `,
	attributed_at, self_referral, created_at, updated_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	c := Customer{Object: "customer"}
	err := row.Scan(&c.ID, &c.ExternalID, &c.Email, &c.AffiliateID, &c.LinkID, &c.ClickID, &c.PromoCodeID, &c.AttributedBy, &c.AttributedAt,
		&c.SelfReferral, &c.CreatedAt, &c.UpdatedAt)
	return c, db.MapError(err)
}

// UpsertCustomer creates the customer named by t or updates its email when
// t gives a different one, and returns it locked for the rest of the
// transaction, so that concurrent conversions of one customer are
// attributed and earn commissions one at a time. changed says whether the
// row was written.
func UpsertCustomer(ctx context.Context, tx pgx.Tx, org uuid.UUID, t Tracking) (c Customer, changed bool, err error) {
	tag, err := tx.Exec(ctx, `INSERT INTO customers (org_id, external_id, email) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, external_id) DO UPDATE SET email = EXCLUDED.email, updated_at = now()
		WHERE EXCLUDED.email IS NOT NULL AND customers.email IS DISTINCT FROM EXCLUDED.email`,
		org, t.CustomerExternalID, t.Email)
	if err != nil {
		return Customer{}, false, fmt.Errorf("upserting the customer: %w", db.MapError(err))
	}
	c, err = scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers
		WHERE org_id = $1 AND external_id = $2 FOR UPDATE`, org, t.CustomerExternalID))
	if err != nil {
		return Customer{}, false, fmt.Errorf("reading the customer: %w", err)
	}
	return c, tag.RowsAffected() > 0, nil
}

// referral is what a customer is attributed to: a link, and the click on it
// when there was one, or a promo code.
type referral struct {
	linkID      *uuid.UUID
	affiliateID uuid.UUID
	clickID     *int64
	promoCodeID *uuid.UUID
}

// Attribute gives an unattributed customer the referral t points at, if
// any, then flags a self-referral. An attributed customer keeps its
// referral: the first attribution wins.
func Attribute(ctx context.Context, tx pgx.Tx, org uuid.UUID, c Customer, t Tracking) (Customer, error) {
	if c.AffiliateID == nil {
		ref, found, err := findReferral(ctx, tx, org, t)
		if err != nil {
			return Customer{}, err
		}
		if found {
			c, err = scanCustomer(tx.QueryRow(ctx, `UPDATE customers SET affiliate_id = $3, link_id = $4, click_id = $5,
				promo_code_id = $6, attributed_at = $7, updated_at = now(), campaign_id = coalesce(
					(SELECT l.campaign_id FROM referral_links l WHERE l.org_id = $1 AND l.id = $4),
					(SELECT p.campaign_id FROM promo_codes p WHERE p.org_id = $1 AND p.id = $6))
				WHERE org_id = $1 AND id = $2 RETURNING `+customerColumns,
				org, c.ID, ref.affiliateID, ref.linkID, ref.clickID, ref.promoCodeID, t.OccurredAt))
			if err != nil {
				return Customer{}, fmt.Errorf("attributing the customer: %w", err)
			}
		}
	}
	return flagSelfReferral(ctx, tx, org, c)
}

// findReferral looks for the customer's referral: first among the
// visitor's clicks, then the referral code, then the promo codes the
// conversion carries, in their order. A click or a link wins over a code.
func findReferral(ctx context.Context, tx pgx.Tx, org uuid.UUID, t Tracking) (referral, bool, error) {
	if t.VisitorID != nil {
		ref, err := attributedClick(ctx, tx, org, *t.VisitorID, t)
		if err == nil || !errors.Is(err, db.ErrNotFound) {
			return ref, err == nil, err
		}
	}
	if t.ReferralCode != nil {
		var ref referral
		err := db.MapError(tx.QueryRow(ctx, `SELECT id, affiliate_id FROM referral_links
			WHERE org_id = $1 AND code = $2 AND disabled_at IS NULL`, org, *t.ReferralCode).Scan(&ref.linkID, &ref.affiliateID))
		if err == nil || !errors.Is(err, db.ErrNotFound) {
			return ref, err == nil, db.Wrap("finding the referral link", err)
		}
	}
	for _, code := range t.PromoCodes {
		p, found, err := FindPromoCode(ctx, tx, org, code)
		if err != nil || found {
			return referral{affiliateID: p.AffiliateID, promoCodeID: &p.ID}, found, err
		}
	}
	return referral{}, false, nil
}

// attributedClickSQL picks the click a conversion at $3 is attributed to
// among visitor $2's clicks that are not a bot's and whose campaign's
// window, [click, click + 24 h * attribution_window_days), contains $3.
// The conversion's time counts to the second: Stripe, and many merchants,
// give times in whole seconds, and a checkout stamped 12:00:00 may follow a
// click at 12:00:00.7, so a click in the conversion's second is eligible.
// When those clicks span campaigns, the model of the most recent click's campaign
// decides: first_click takes the earliest of all of them, last_click the
// most recent. Ties on time go to the click recorded first (first_click)
// or last (last_click).
const attributedClickSQL = `
WITH eligible AS (
	SELECT c.id, c.link_id, c.occurred_at, l.affiliate_id, cp.attribution_model
	FROM clicks c
	JOIN referral_links l ON l.org_id = c.org_id AND l.id = c.link_id
	JOIN campaigns cp ON cp.org_id = l.org_id AND cp.id = l.campaign_id
	WHERE c.org_id = $1 AND c.visitor_id = $2 AND NOT c.is_bot
		AND c.occurred_at < date_trunc('second', $3::timestamptz) + interval '1 second'
		AND $3 < c.occurred_at + make_interval(hours => 24 * cp.attribution_window_days)
), model AS (
	SELECT attribution_model FROM eligible ORDER BY occurred_at DESC, id DESC LIMIT 1
)
SELECT e.id, e.link_id, e.affiliate_id FROM eligible e, model m
ORDER BY CASE WHEN m.attribution_model = 'first_click' THEN e.occurred_at END ASC,
	CASE WHEN m.attribution_model = 'first_click' THEN e.id END ASC,
	e.occurred_at DESC, e.id DESC
LIMIT 1`

// attributedClick returns the click that attributes a conversion of
// visitor at t.OccurredAt, or db.ErrNotFound.
func attributedClick(ctx context.Context, tx pgx.Tx, org, visitor uuid.UUID, t Tracking) (referral, error) {
	var ref referral
	var click int64
	err := db.MapError(tx.QueryRow(ctx, attributedClickSQL, org, visitor, t.OccurredAt).Scan(&click, &ref.linkID, &ref.affiliateID))
	if err != nil {
		return referral{}, db.Wrap("finding the visitor's click", err)
	}
	ref.clickID = &click
	return ref, nil
}

// flagSelfReferral marks an attributed customer whose email is its
// affiliate's (case-insensitively) as a self-referral, which earns no
// commission. It is checked on every conversion, since the email may be
// given after the attribution; once set, the flag stays.
func flagSelfReferral(ctx context.Context, tx pgx.Tx, org uuid.UUID, c Customer) (Customer, error) {
	if c.AffiliateID == nil || c.Email == nil || c.SelfReferral {
		return c, nil
	}
	flagged, err := scanCustomer(tx.QueryRow(ctx, `UPDATE customers SET self_referral = true, updated_at = now()
		WHERE org_id = $1 AND id = $2 AND lower(email) = (SELECT lower(a.email) FROM affiliates a WHERE a.org_id = $1 AND a.id = $3)
		RETURNING `+customerColumns, org, c.ID, *c.AffiliateID))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return c, nil
	case err != nil:
		return Customer{}, fmt.Errorf("checking for a self-referral: %w", err)
	}
	return flagged, nil
}

// GetCustomer reads customer id of org, or db.ErrNotFound.
func GetCustomer(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Customer, error) {
	return Get(ctx, tx, org, customerQuery, id)
}

// ListCustomers reads a page of org's customers.
func ListCustomers(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page) (List[Customer], error) {
	return ListPage(ctx, tx, org, customerQuery, p)
}

var customerQuery = Query[Customer]{Table: "customers", Columns: customerColumns, Scan: scanCustomer}
