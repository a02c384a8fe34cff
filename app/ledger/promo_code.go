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
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// PromoCode is a promo code as the API shows it: a code an affiliate
// shares (a coupon typed at checkout) and the affiliate and campaign to
// credit for a sale that carries it. Code is kept as it was written and
// matched without regard to case; a disabled code (DisabledAt set)
// matches nothing.
type PromoCode struct {
	Object      string     `json:"object"`
	ID          uuid.UUID  `json:"id"`
	Code        string     `json:"code"`
	AffiliateID uuid.UUID  `json:"affiliate_id"`
	CampaignID  uuid.UUID  `json:"campaign_id"`
	DisabledAt  *time.Time `json:"disabled_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// promoCodePattern is what a promo code looks like, as the promo_codes
// CHECK has it: 1 to 64 ASCII letters, digits, - and _. Stripe's
// promotion codes take letters and digits, Paddle's letters and digits up
// to 32; - and _ are kept for codes such as SPRING-2026. ASCII alone keeps
// "the same code in another case" unambiguous: only A-Z fold.
var promoCodePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// PromoCodeRule says what a valid promo code is, for field errors.
const PromoCodeRule = "must be 1 to 64 letters, digits, _ or - (ASCII)"

// ValidPromoCode says whether code may be a promo code.
func ValidPromoCode(code string) bool { return promoCodePattern.MatchString(code) }

// promoCodeKey is the form codes are compared in, that of the unique
// index's lower(code COLLATE "C"): a valid code in lower case.
func promoCodeKey(code string) string { return strings.ToLower(code) }

const promoCodeColumns = `id, code, affiliate_id, campaign_id, disabled_at, created_at, updated_at`

func scanPromoCode(row pgx.Row) (PromoCode, error) {
	p := PromoCode{Object: "promo_code"}
	err := row.Scan(&p.ID, &p.Code, &p.AffiliateID, &p.CampaignID, &p.DisabledAt, &p.CreatedAt, &p.UpdatedAt)
	return p, db.MapError(err)
}

var promoCodeQuery = Query[PromoCode]{Table: "promo_codes", Columns: promoCodeColumns, Scan: scanPromoCode}

// GetPromoCode reads promo code id of org, or db.ErrNotFound.
func GetPromoCode(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (PromoCode, error) {
	return Get(ctx, tx, org, promoCodeQuery, id)
}

// PromoCodeFilter keeps the promo codes of one affiliate, of one
// campaign, or both; nil keeps all.
type PromoCodeFilter struct {
	AffiliateID, CampaignID *uuid.UUID
}

// ListPromoCodes reads a page of org's promo codes that f keeps, the
// disabled ones too.
func ListPromoCodes(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, f PromoCodeFilter) (List[PromoCode], error) {
	q := promoCodeQuery
	q.Where = `($4::uuid IS NULL OR affiliate_id = $4) AND ($5::uuid IS NULL OR campaign_id = $5)`
	return ListPage(ctx, tx, org, q, p, f.AffiliateID, f.CampaignID)
}

// FindPromoCode reads org's enabled promo code that code names, compared
// without regard to case and surrounding white space, as a checkout sends
// what a customer typed. found is false for a code that no enabled promo
// code of org has, or that cannot be one; another organization's codes are
// never seen.
func FindPromoCode(ctx context.Context, tx pgx.Tx, org uuid.UUID, code string) (p PromoCode, found bool, err error) {
	code = strings.TrimSpace(code)
	if !ValidPromoCode(code) {
		return PromoCode{}, false, nil
	}
	p, err = scanPromoCode(tx.QueryRow(ctx, `SELECT `+promoCodeColumns+` FROM promo_codes
		WHERE org_id = $1 AND lower(code COLLATE "C") = $2 AND disabled_at IS NULL`, org, promoCodeKey(code)))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return PromoCode{}, false, nil
	case err != nil:
		return PromoCode{}, false, fmt.Errorf("finding a promo code: %w", err)
	}
	return p, true, nil
}

// NewPromoCode is a promo code to create: Code a ValidPromoCode, kept as
// written, for an affiliate and a campaign of the organization.
type NewPromoCode struct {
	Code                    string
	AffiliateID, CampaignID uuid.UUID
}

// ErrPromoCodeTaken refuses a promo code whose code, in any case, another
// promo code of the organization has or had.
var ErrPromoCodeTaken = conflict("The request conflicts with the current state of the object",
	"a promo code of the organization already has this code, compared without regard to case, and keeps it once disabled; choose another")

// ErrPromoCodeDisabled refuses a change of a disabled promo code: it keeps
// the affiliate and campaign it had when it was disabled.
var ErrPromoCodeDisabled = conflict("The request conflicts with the current state of the object",
	"the promo code is disabled and can no longer change; create another code")

// CreatePromoCode creates the promo code in describes, for an affiliate
// that is not suspended and a campaign that is not archived, and audits it
// (promo_code.created). A malformed code, or an affiliate or campaign that
// is not org's or not usable, is refused with field errors; a code the
// organization already has, in any case, is ErrPromoCodeTaken.
func CreatePromoCode(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, in NewPromoCode) (PromoCode, error) {
	if !ValidPromoCode(in.Code) {
		return PromoCode{}, FieldErrors{{Field: "code", Detail: PromoCodeRule}}
	}
	if err := requirePromoCodeTargets(ctx, tx, org, &in.AffiliateID, &in.CampaignID); err != nil {
		return PromoCode{}, err
	}
	p, err := scanPromoCode(tx.QueryRow(ctx, `INSERT INTO promo_codes (org_id, code, affiliate_id, campaign_id)
		VALUES ($1, $2, $3, $4) RETURNING `+promoCodeColumns, org, in.Code, in.AffiliateID, in.CampaignID))
	switch {
	case errors.Is(err, db.ErrConflict):
		return PromoCode{}, ErrPromoCodeTaken
	case err != nil:
		return PromoCode{}, fmt.Errorf("creating a promo code: %w", err)
	}
	return p, rec.Record(ctx, tx, org, "promo_code.created", "promo_code", p.ID.String(),
		map[string]any{"code": p.Code, "affiliate_id": p.AffiliateID, "campaign_id": p.CampaignID}, nil)
}

// requirePromoCodeTargets refuses, with the field errors of both, an
// affiliate that is not org's or is suspended and a campaign that is not
// org's or is archived; a nil id is not checked.
func requirePromoCodeTargets(ctx context.Context, tx pgx.Tx, org uuid.UUID, affiliate, campaign *uuid.UUID) error {
	var errs FieldErrors
	for _, check := range []struct {
		id      *uuid.UUID
		require func(context.Context, pgx.Tx, uuid.UUID, uuid.UUID) error
	}{{affiliate, requireLinkAffiliate}, {campaign, RequireUsableCampaign}} {
		if check.id == nil {
			continue
		}
		var fields FieldErrors
		err := check.require(ctx, tx, org, *check.id)
		switch {
		case errors.As(err, &fields):
			errs = append(errs, fields...)
		case err != nil:
			return err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// PromoCodeChanges is what an update of a promo code changes; a nil field
// is kept.
type PromoCodeChanges struct {
	AffiliateID, CampaignID *uuid.UUID
}

// UpdatePromoCode applies ch to promo code id of org, refusing as
// CreatePromoCode does an affiliate or campaign it cannot name, and audits
// the fields that changed (promo_code.updated), returning the code as it is
// now. Changes that change nothing write and audit nothing; a disabled code
// cannot change (ErrPromoCodeDisabled).
func UpdatePromoCode(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, ch PromoCodeChanges) (PromoCode, error) {
	p, err := lockPromoCode(ctx, tx, org, id)
	if err != nil {
		return PromoCode{}, db.Wrap("locking promo code "+id.String(), err)
	}
	if ch.AffiliateID != nil && *ch.AffiliateID == p.AffiliateID {
		ch.AffiliateID = nil
	}
	if ch.CampaignID != nil && *ch.CampaignID == p.CampaignID {
		ch.CampaignID = nil
	}
	var changed []string
	if ch.AffiliateID != nil {
		changed = append(changed, "affiliate_id")
	}
	if ch.CampaignID != nil {
		changed = append(changed, "campaign_id")
	}
	if len(changed) == 0 {
		return p, nil
	}
	if p.DisabledAt != nil {
		return PromoCode{}, ErrPromoCodeDisabled
	}
	if err := requirePromoCodeTargets(ctx, tx, org, ch.AffiliateID, ch.CampaignID); err != nil {
		return PromoCode{}, err
	}
	updated, err := scanPromoCode(tx.QueryRow(ctx, `UPDATE promo_codes
		SET affiliate_id = coalesce($3, affiliate_id), campaign_id = coalesce($4, campaign_id), updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+promoCodeColumns, org, id, ch.AffiliateID, ch.CampaignID))
	if err != nil {
		return PromoCode{}, fmt.Errorf("updating promo code %s: %w", id, err)
	}
	return updated, rec.Record(ctx, tx, org, "promo_code.updated", "promo_code", id.String(),
		map[string]any{"changed": changed, "affiliate_id": updated.AffiliateID, "campaign_id": updated.CampaignID}, nil)
}

// DisablePromoCode stops promo code id of org from matching, for good,
// and audits it (promo_code.disabled), returning the code as it is now;
// disabling it again changes and audits nothing. Its code stays taken in
// the organization, so a sale carrying it never credits anyone else.
func DisablePromoCode(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (PromoCode, error) {
	p, err := lockPromoCode(ctx, tx, org, id)
	if err != nil || p.DisabledAt != nil {
		return p, db.Wrap("locking promo code "+id.String(), err)
	}
	disabled, err := scanPromoCode(tx.QueryRow(ctx, `UPDATE promo_codes SET disabled_at = now(), updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+promoCodeColumns, org, id))
	if err != nil {
		return PromoCode{}, fmt.Errorf("disabling promo code %s: %w", id, err)
	}
	return disabled, rec.Record(ctx, tx, org, "promo_code.disabled", "promo_code", id.String(), map[string]any{"code": p.Code}, nil)
}

// lockPromoCode reads promo code id of org for update, or db.ErrNotFound.
func lockPromoCode(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (PromoCode, error) {
	return scanPromoCode(tx.QueryRow(ctx, `SELECT `+promoCodeColumns+` FROM promo_codes WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
}
