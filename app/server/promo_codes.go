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
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// parseObjectID reads the optional object id v of field into into,
// recording a missing or malformed one in errs; required says whether it
// must be there.
func parseObjectID(errs *ledger.FieldErrors, field string, v *string, required bool) *uuid.UUID {
	if v == nil {
		if required {
			errs.Add(field, "is required")
		}
		return nil
	}
	id, err := uuid.Parse(*v)
	if err != nil {
		errs.Add(field, "must be an object id")
		return nil
	}
	return &id
}

type createPromoCodeRequest struct {
	Code        *string `json:"code"`
	AffiliateID *string `json:"affiliate_id"`
	CampaignID  *string `json:"campaign_id"`
}

func (req createPromoCodeRequest) validate() (ledger.NewPromoCode, ledger.FieldErrors) {
	var in ledger.NewPromoCode
	var errs ledger.FieldErrors
	switch {
	case req.Code == nil:
		errs.Add("code", "is required")
	case !ledger.ValidPromoCode(*req.Code):
		errs.Add("code", ledger.PromoCodeRule)
	default:
		in.Code = *req.Code
	}
	if id := parseObjectID(&errs, "affiliate_id", req.AffiliateID, true); id != nil {
		in.AffiliateID = *id
	}
	if id := parseObjectID(&errs, "campaign_id", req.CampaignID, true); id != nil {
		in.CampaignID = *id
	}
	return in, errs
}

func (s *Server) createPromoCode(w http.ResponseWriter, r *http.Request) {
	var req createPromoCodeRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	in, errs := req.validate()
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "creating a promo code", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		code, err := ledger.CreatePromoCode(ctx, tx, p.OrgID, s.requestRecorder(r), in)
		return http.StatusCreated, code, err
	})
}

func (s *Server) getPromoCode(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a promo code", ledger.GetPromoCode)
}

func (s *Server) listPromoCodes(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	q := queryFilter{q: r.URL.Query()}
	f := ledger.PromoCodeFilter{AffiliateID: q.uuid("affiliate_id"), CampaignID: q.uuid("campaign_id")}
	if !q.ok(w, r) {
		return
	}
	s.list(w, r, "listing promo codes", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPromoCodes(ctx, tx, org, page, f)
	})
}

type updatePromoCodeRequest struct {
	AffiliateID *string `json:"affiliate_id"`
	CampaignID  *string `json:"campaign_id"`
}

func (s *Server) updatePromoCode(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var req updatePromoCodeRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var errs ledger.FieldErrors
	ch := ledger.PromoCodeChanges{
		AffiliateID: parseObjectID(&errs, "affiliate_id", req.AffiliateID, false),
		CampaignID:  parseObjectID(&errs, "campaign_id", req.CampaignID, false),
	}
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "updating a promo code", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		code, err := ledger.UpdatePromoCode(ctx, tx, p.OrgID, s.requestRecorder(r), id, ch)
		return http.StatusOK, code, err
	})
}

// disablePromoCode stops the code from matching, for good (see
// ledger.DisablePromoCode).
func (s *Server) disablePromoCode(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "disabling a promo code", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		code, err := ledger.DisablePromoCode(ctx, tx, p.OrgID, s.requestRecorder(r), id)
		return http.StatusOK, code, err
	})
}
