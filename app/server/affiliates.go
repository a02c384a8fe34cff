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
	"net/http"
	"regexp"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// maxAffiliateName is the longest affiliate name, in characters.
const maxAffiliateName = 200

// validAffiliateName says whether s may be an affiliate's name.
func validAffiliateName(s string) bool {
	return ledger.ValidText(s, 1, maxAffiliateName)
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

// validate checks the request and returns the affiliate to invite, its
// email normalized.
func (req createAffiliateRequest) validate() (ledger.NewAffiliate, ledger.FieldErrors) {
	var errs ledger.FieldErrors
	in := ledger.NewAffiliate{Name: req.Name}
	switch {
	case req.Email == nil:
		errs.Add("email", "is required")
	default:
		var ok bool
		if in.Email, ok = ledger.NormalizeEmail(*req.Email); !ok {
			errs.Add("email", "must be a bare email address such as ada@example.com")
		}
	}
	if req.Name != nil && !validAffiliateName(*req.Name) {
		errs.Add("name", "must be 1 to 200 characters")
	}
	if req.CampaignID != nil {
		id, err := uuid.Parse(*req.CampaignID)
		if err != nil {
			errs.Add("campaign_id", "must be a campaign id")
		}
		in.CampaignID = &id
	}
	return in, errs
}

func (s *Server) createAffiliate(w http.ResponseWriter, r *http.Request) {
	var req createAffiliateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	in, errs := req.validate()
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "inviting an affiliate", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := ledger.InviteAffiliate(ctx, tx, p.OrgID, s.requestRecorder(r), in)
		return http.StatusCreated, a, err
	})
}

func (s *Server) getAffiliate(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading an affiliate", ledger.GetAffiliate)
}

func (s *Server) listAffiliates(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	var f ledger.AffiliateFilter
	if v := ledger.AffiliateStatus(r.URL.Query().Get("status")); v != "" {
		if !v.Valid() {
			invalidQuery(w, r, "Invalid query", []ledger.FieldError{{Field: "status", Detail: "must be invited, pending, active or suspended"}})
			return
		}
		f.Status = &v
	}
	s.list(w, r, "listing affiliates", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListAffiliates(ctx, tx, org, page, f)
	})
}

// stripeAccountID is the form of a Stripe connected account id.
var stripeAccountID = regexp.MustCompile(`^acct_[A-Za-z0-9]{1,250}$`)

// updateAffiliateRequest changes the fields it sets; null clears one.
type updateAffiliateRequest struct {
	Name            nullable[string] `json:"name"`
	StripeAccountID nullable[string] `json:"stripe_account_id"`
}

func (req updateAffiliateRequest) validate() ledger.FieldErrors {
	var errs ledger.FieldErrors
	if v := req.Name.Value; v != nil && !validAffiliateName(*v) {
		errs.Add("name", "must be 1 to 200 characters, or null")
	}
	if v := req.StripeAccountID.Value; v != nil && !stripeAccountID.MatchString(*v) {
		errs.Add("stripe_account_id", "must be a Stripe account id such as acct_1A2b3C, or null")
	}
	return errs
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
	u := ledger.AffiliateUpdate{Name: ledger.AffiliateField(req.Name), StripeAccountID: ledger.AffiliateField(req.StripeAccountID)}
	s.mutate(w, r, "updating an affiliate", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := ledger.UpdateAffiliate(ctx, tx, p.OrgID, s.requestRecorder(r), id, u)
		return http.StatusOK, a, err
	})
}
