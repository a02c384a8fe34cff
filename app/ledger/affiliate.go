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

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// AffiliateStatus is where an affiliate stands in its lifecycle: invited
// until it accepts an invite, pending until the merchant approves it, then
// active; suspended until approved again.
type AffiliateStatus string

const (
	// AffiliateInvited: invited, the invite not accepted yet.
	AffiliateInvited AffiliateStatus = "invited"
	// AffiliatePending: accepted an invite, waiting for the merchant's
	// approval.
	AffiliatePending AffiliateStatus = "pending"
	// AffiliateActive: approved; its links redirect and earn.
	AffiliateActive AffiliateStatus = "active"
	// AffiliateSuspended: suspended by the merchant; its links no longer
	// redirect.
	AffiliateSuspended AffiliateStatus = "suspended"
)

// Valid says whether s is one of the affiliate statuses.
func (s AffiliateStatus) Valid() bool {
	switch s {
	case AffiliateInvited, AffiliatePending, AffiliateActive, AffiliateSuspended:
		return true
	}
	return false
}

// Affiliate is an affiliate as the API shows it. Invite is set only in the
// answers that issue an invite: its token is stored nowhere but as a hash.
type Affiliate struct {
	Object          string           `json:"object"`
	ID              uuid.UUID        `json:"id"`
	Email           string           `json:"email"`
	Name            *string          `json:"name"`
	Status          AffiliateStatus  `json:"status"`
	StripeAccountID *string          `json:"stripe_account_id"`
	ApprovedAt      *time.Time       `json:"approved_at"`
	CreatedAt       time.Time        `json:"created_at"`
	UpdatedAt       time.Time        `json:"updated_at"`
	Invite          *AffiliateInvite `json:"invite,omitempty"`
}

const affiliateColumns = `id, email, name, status, stripe_account_id, approved_at, created_at, updated_at`

func scanAffiliate(row pgx.Row) (Affiliate, error) {
	a := Affiliate{Object: "affiliate"}
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Status, &a.StripeAccountID, &a.ApprovedAt, &a.CreatedAt, &a.UpdatedAt)
	return a, db.MapError(err)
}

var affiliateQuery = Query[Affiliate]{Table: "affiliates", Columns: affiliateColumns, Scan: scanAffiliate}

// GetAffiliate reads affiliate id of org, or db.ErrNotFound.
func GetAffiliate(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Affiliate, error) {
	return Get(ctx, tx, org, affiliateQuery, id)
}

// AffiliateFilter keeps the affiliates in one status; nil keeps all.
type AffiliateFilter struct {
	Status *AffiliateStatus
}

// ListAffiliates reads a page of org's affiliates that f keeps.
func ListAffiliates(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page, f AffiliateFilter) (List[Affiliate], error) {
	q := affiliateQuery
	q.Where = `$4::text IS NULL OR status = $4`
	return ListPage(ctx, tx, org, q, p, f.Status)
}

// lockAffiliate reads affiliate id of org and locks its row until the
// transaction ends, or returns db.ErrNotFound.
func lockAffiliate(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (Affiliate, error) {
	a, err := scanAffiliate(tx.QueryRow(ctx, `SELECT `+affiliateColumns+` FROM affiliates
		WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
	return a, db.Wrap("locking affiliate "+id.String(), err)
}

// affiliateConflict is a refusal by an affiliate's current state, saying
// why in detail.
func affiliateConflict(detail string) *Refusal {
	return conflict("The request conflicts with the current state of the object", detail)
}

// ErrAffiliateEmailTaken refuses a second affiliate with the same email in
// one organization.
var ErrAffiliateEmailTaken = affiliateConflict("an affiliate with this email is already in the organization")

// NewAffiliate is an affiliate to invite: Email as NormalizeEmail returns
// it, an optional Name, and the campaign the invite is for, if any.
type NewAffiliate struct {
	Email      string
	Name       *string
	CampaignID *uuid.UUID
}

// InviteAffiliate creates an invited affiliate of org with an invite for
// in's campaign, audits it (affiliate.invited, the email sealed), and
// returns it with the invite and its token, which only this answer shows.
// A campaign that is not org's or is archived is an invalid campaign_id
// (FieldErrors); an email taken already is ErrAffiliateEmailTaken.
func InviteAffiliate(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, in NewAffiliate) (Affiliate, error) {
	if in.CampaignID != nil {
		if err := RequireUsableCampaign(ctx, tx, org, *in.CampaignID); err != nil {
			return Affiliate{}, err
		}
	}
	a, err := scanAffiliate(tx.QueryRow(ctx, `INSERT INTO affiliates (org_id, email, name) VALUES ($1, $2, $3)
		RETURNING `+affiliateColumns, org, in.Email, in.Name))
	if errors.Is(err, db.ErrConflict) {
		return Affiliate{}, ErrAffiliateEmailTaken
	}
	if err != nil {
		return Affiliate{}, fmt.Errorf("inserting the affiliate: %w", err)
	}
	if a.Invite, err = issueInvite(ctx, tx, org, a.ID, in.CampaignID); err != nil {
		return Affiliate{}, err
	}
	return a, rec.Record(ctx, tx, org, "affiliate.invited", "affiliate", a.ID.String(),
		map[string]any{"campaign_id": in.CampaignID}, map[string]string{audit.FieldEmail: a.Email})
}

// AffiliateField is the change of one optional field of an affiliate: Set
// says whether to change it, Value is its new value (nil clears it).
type AffiliateField struct {
	Set   bool
	Value *string
}

// changes says whether f sets a value other than v.
func (f AffiliateField) changes(v *string) bool {
	return f.Set && ((f.Value == nil) != (v == nil) || f.Value != nil && *f.Value != *v)
}

// AffiliateUpdate is what an update changes; a field not Set is kept.
type AffiliateUpdate struct {
	Name            AffiliateField
	StripeAccountID AffiliateField
}

// apply sets the fields u changes on a and returns the JSON names of those
// whose value changed.
func (u AffiliateUpdate) apply(a *Affiliate) []string {
	var changed []string
	for _, f := range []struct {
		name  string
		in    AffiliateField
		field **string
	}{
		{"name", u.Name, &a.Name},
		{"stripe_account_id", u.StripeAccountID, &a.StripeAccountID},
	} {
		if f.in.changes(*f.field) {
			changed = append(changed, f.name)
			*f.field = f.in.Value
		}
	}
	return changed
}

// UpdateAffiliate applies u to affiliate id of org and audits the change
// (affiliate.updated, naming the fields changed and the Stripe account
// before and after, masked). An update that changes nothing returns the
// affiliate as it is and audits nothing.
func UpdateAffiliate(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID, u AffiliateUpdate) (Affiliate, error) {
	a, err := lockAffiliate(ctx, tx, org, id)
	if err != nil {
		return Affiliate{}, err
	}
	account := a.StripeAccountID
	changed := u.apply(&a)
	if len(changed) == 0 {
		return a, nil
	}
	metadata := map[string]any{"changed": changed}
	if u.StripeAccountID.changes(account) {
		metadata["stripe_account_id"] = map[string]any{"from": maskedAccount(account), "to": maskedAccount(a.StripeAccountID)}
	}
	updated, err := scanAffiliate(tx.QueryRow(ctx, `UPDATE affiliates SET name = $3, stripe_account_id = $4, updated_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+affiliateColumns, org, id, a.Name, a.StripeAccountID))
	if err != nil {
		return Affiliate{}, fmt.Errorf("updating affiliate %s: %w", id, err)
	}
	return updated, rec.Record(ctx, tx, org, "affiliate.updated", "affiliate", id.String(), metadata, nil)
}

// maskedAccount is an account id masked for the audit log, nil for none.
func maskedAccount(account *string) any {
	if account == nil {
		return nil
	}
	return MaskAccount(*account)
}
