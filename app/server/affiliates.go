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
	"net/http"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// Affiliate statuses, in the order of the lifecycle: invited until the
// invite is accepted, pending until the merchant approves, then active;
// suspended until approved again.
const (
	affiliateInvited   = "invited"
	affiliatePending   = "pending"
	affiliateActive    = "active"
	affiliateSuspended = "suspended"
)

func validAffiliateStatus(s string) bool {
	switch s {
	case affiliateInvited, affiliatePending, affiliateActive, affiliateSuspended:
		return true
	}
	return false
}

// affiliateObject is an affiliate as the API shows it. Invite is set only
// in the answers that issue an invite: its token is stored nowhere but as a
// hash.
type affiliateObject struct {
	Object          string                 `json:"object"`
	ID              uuid.UUID              `json:"id"`
	Email           string                 `json:"email"`
	Name            *string                `json:"name"`
	Status          string                 `json:"status"`
	StripeAccountID *string                `json:"stripe_account_id"`
	ApprovedAt      *time.Time             `json:"approved_at"`
	CreatedAt       time.Time              `json:"created_at"`
	UpdatedAt       time.Time              `json:"updated_at"`
	Invite          *affiliateInviteObject `json:"invite,omitempty"`
}

const affiliateColumns = `id, email, name, status, stripe_account_id, approved_at, created_at, updated_at`

func scanAffiliate(row pgx.Row) (affiliateObject, error) {
	a := affiliateObject{Object: "affiliate"}
	err := row.Scan(&a.ID, &a.Email, &a.Name, &a.Status, &a.StripeAccountID, &a.ApprovedAt, &a.CreatedAt, &a.UpdatedAt)
	return a, db.MapError(err)
}

// lockAffiliate reads the organization's affiliate id and locks its row
// until the transaction ends.
func lockAffiliate(ctx context.Context, tx pgx.Tx, orgID, id uuid.UUID) (affiliateObject, error) {
	return scanAffiliate(tx.QueryRow(ctx, `SELECT `+affiliateColumns+` FROM affiliates WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
}

// nullable is a body field that tells absent (Set false) from null (Set
// true, Value nil) from a value.
type nullable[T any] struct {
	Set   bool
	Value *T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

type createAffiliateRequest struct {
	Email      *string `json:"email"`
	Name       *string `json:"name"`
	CampaignID *string `json:"campaign_id"`
}

// validate checks the request and returns the normalized email and the
// campaign id, if any.
func (req createAffiliateRequest) validate() (string, *uuid.UUID, []ledger.FieldError) {
	var errs []ledger.FieldError
	var email string
	switch {
	case req.Email == nil:
		errs = append(errs, ledger.FieldError{Field: "email", Detail: "is required"})
	default:
		var ok bool
		if email, ok = ledger.NormalizeEmail(*req.Email); !ok {
			errs = append(errs, ledger.FieldError{Field: "email", Detail: "must be a bare email address such as ada@example.com"})
		}
	}
	if req.Name != nil && !validAffiliateName(*req.Name) {
		errs = append(errs, ledger.FieldError{Field: "name", Detail: "must be 1 to 200 characters"})
	}
	var campaign *uuid.UUID
	if req.CampaignID != nil {
		id, err := uuid.Parse(*req.CampaignID)
		if err != nil {
			errs = append(errs, ledger.FieldError{Field: "campaign_id", Detail: "must be a campaign id"})
		}
		campaign = &id
	}
	return email, campaign, errs
}

func validAffiliateName(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= 200
}

func (s *Server) createAffiliate(w http.ResponseWriter, r *http.Request) {
	var req createAffiliateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	email, campaign, errs := req.validate()
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "inviting an affiliate", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		if campaign != nil {
			if err := requireUsableCampaign(ctx, tx, p.OrgID, *campaign); err != nil {
				return 0, nil, err
			}
		}
		a, err := scanAffiliate(tx.QueryRow(ctx, `INSERT INTO affiliates (org_id, email, name) VALUES ($1, $2, $3)
			RETURNING `+affiliateColumns, p.OrgID, email, req.Name))
		if errors.Is(err, db.ErrConflict) {
			return 0, nil, stateConflict("an affiliate with this email is already in the organization")
		}
		if err != nil {
			return 0, nil, err
		}
		if a.Invite, err = insertInvite(ctx, tx, p.OrgID, a.ID, campaign); err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, withPersonal(s.auditEntry(r, "affiliate.invited", "affiliate", a.ID.String(),
			map[string]any{"campaign_id": campaign}), map[string]string{audit.FieldEmail: a.Email}))
		return http.StatusCreated, a, err
	})
}

// requireUsableCampaign refuses, as invalid campaign_id, an id that is not
// one of the organization's campaigns or names an archived one.
func requireUsableCampaign(ctx context.Context, tx pgx.Tx, orgID, id uuid.UUID) error {
	var archivedAt *time.Time
	err := db.MapError(tx.QueryRow(ctx, `SELECT archived_at FROM campaigns WHERE org_id = $1 AND id = $2`, orgID, id).Scan(&archivedAt))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return ledger.FieldErrors{{Field: "campaign_id", Detail: "is not a campaign of the organization"}}
	case err != nil:
		return err
	case archivedAt != nil:
		return ledger.FieldErrors{{Field: "campaign_id", Detail: "names an archived campaign"}}
	}
	return nil
}

func (s *Server) getAffiliate(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading an affiliate", selectByID("affiliates", affiliateColumns, scanAffiliate))
}

func (s *Server) listAffiliates(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	var status *string
	if v := r.URL.Query().Get("status"); v != "" {
		if !validAffiliateStatus(v) {
			writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid query", Status: http.StatusBadRequest,
				Errors: []ledger.FieldError{{Field: "status", Detail: "must be invited, pending, active or suspended"}}})
			return
		}
		status = &v
	}
	s.list(w, r, "listing affiliates", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPage(ctx, tx, org, ledger.Query[affiliateObject]{Table: "affiliates", Columns: affiliateColumns, Where: `$4::text IS NULL OR status = $4`, Scan: scanAffiliate}, page, status)
	})
}

// stripeAccountID is the form of a Stripe connected account id.
var stripeAccountID = regexp.MustCompile(`^acct_[A-Za-z0-9]{1,250}$`)

// updateAffiliateRequest changes the fields it sets; null clears one.
type updateAffiliateRequest struct {
	Name            nullable[string] `json:"name"`
	StripeAccountID nullable[string] `json:"stripe_account_id"`
}

func (req updateAffiliateRequest) validate() []ledger.FieldError {
	var errs []ledger.FieldError
	if v := req.Name.Value; v != nil && !validAffiliateName(*v) {
		errs = append(errs, ledger.FieldError{Field: "name", Detail: "must be 1 to 200 characters, or null"})
	}
	if v := req.StripeAccountID.Value; v != nil && !stripeAccountID.MatchString(*v) {
		errs = append(errs, ledger.FieldError{Field: "stripe_account_id", Detail: "must be a Stripe account id such as acct_1A2b3C, or null"})
	}
	return errs
}

// apply sets the fields present in req and returns the JSON names of those
// whose value changed.
func (req updateAffiliateRequest) apply(a *affiliateObject) []string {
	var changed []string
	for _, f := range []struct {
		name  string
		in    nullable[string]
		field **string
	}{
		{"name", req.Name, &a.Name},
		{"stripe_account_id", req.StripeAccountID, &a.StripeAccountID},
	} {
		if f.in.Set && !equalPtr(f.in.Value, *f.field) {
			changed = append(changed, f.name)
			*f.field = f.in.Value
		}
	}
	return changed
}

func (s *Server) updateAffiliate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req updateAffiliateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if errs := req.validate(); len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	if v := req.StripeAccountID.Value; v != nil && !s.checkStripeAccount(w, r, p.OrgID, *v) {
		return
	}
	s.mutate(w, r, "updating an affiliate", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := lockAffiliate(ctx, tx, p.OrgID, id)
		if err != nil {
			return 0, nil, err
		}
		account := a.StripeAccountID
		changed := req.apply(&a)
		if len(changed) == 0 {
			return http.StatusOK, a, nil
		}
		metadata := map[string]any{"changed": changed}
		if slices.Contains(changed, "stripe_account_id") {
			metadata["stripe_account_id"] = map[string]any{"from": maskedAccount(account), "to": maskedAccount(a.StripeAccountID)}
		}
		updated, err := scanAffiliate(tx.QueryRow(ctx, `UPDATE affiliates SET name = $3, stripe_account_id = $4, updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+affiliateColumns, p.OrgID, id, a.Name, a.StripeAccountID))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "affiliate.updated", "affiliate", id.String(), metadata))
		return http.StatusOK, updated, err
	})
}

// maskedAccount is a masked account id for the audit log, nil for none.
func maskedAccount(account *string) any {
	if account == nil {
		return nil
	}
	return ledger.MaskAccount(*account)
}
