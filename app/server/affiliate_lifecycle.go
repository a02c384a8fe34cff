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

// reinviteAffiliate replaces the open invites of an affiliate who has not
// accepted one yet by a new invite for the same campaign.
func (s *Server) reinviteAffiliate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "inviting an affiliate again", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := ledger.ReinviteAffiliate(ctx, tx, p.OrgID, s.requestRecorder(r), id)
		return http.StatusOK, a, err
	})
}

type acceptInviteRequest struct {
	Token *string `json:"token"`
	Name  *string `json:"name"`
}

func (req acceptInviteRequest) validate() ledger.FieldErrors {
	var errs ledger.FieldErrors
	if req.Token == nil || *req.Token == "" {
		errs.Add("token", "is required")
	}
	if req.Name != nil && !validAffiliateName(*req.Name) {
		errs.Add("name", "must be 1 to 200 characters")
	}
	return errs
}

// acceptInvite takes the token an affiliate received, as the merchant's
// backend forwards it. An unknown, expired or used token, or one of another
// organization, is the same 404: the answer does not say which.
func (s *Server) acceptInvite(w http.ResponseWriter, r *http.Request) {
	var req acceptInviteRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if errs := req.validate(); len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "accepting an affiliate invite", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := ledger.AcceptInvite(ctx, tx, p.OrgID, s.requestRecorder(r), *req.Token, req.Name)
		return http.StatusOK, a, err
	})
}

func (s *Server) approveAffiliate(w http.ResponseWriter, r *http.Request) {
	s.moveAffiliate(w, r, ledger.ApproveAffiliate)
}

type suspendAffiliateRequest struct {
	Reason *string `json:"reason"`
}

func (s *Server) suspendAffiliate(w http.ResponseWriter, r *http.Request) {
	var req suspendAffiliateRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Reason == nil {
		validationFailed(w, r, ledger.FieldErrors{{Field: "reason", Detail: "is required"}})
		return
	}
	if !ledger.ValidText(*req.Reason, 1, 500) {
		validationFailed(w, r, ledger.FieldErrors{{Field: "reason", Detail: "must be 1 to 500 characters"}})
		return
	}
	s.moveAffiliate(w, r, func(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec ledger.Recorder, id uuid.UUID) (ledger.Affiliate, error) {
		return ledger.SuspendAffiliate(ctx, tx, org, rec, id, *req.Reason)
	})
}

// affiliateMove is a ledger verb that changes an affiliate's status.
type affiliateMove func(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec ledger.Recorder, id uuid.UUID) (ledger.Affiliate, error)

// moveAffiliate applies move, approval or suspension, to the {id}
// affiliate. The affiliate's codes are dropped from this process's link
// cache, since whether they redirect depends on the status.
func (s *Server) moveAffiliate(w http.ResponseWriter, r *http.Request, move affiliateMove) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "changing an affiliate's status", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		a, err := move(ctx, tx, p.OrgID, s.requestRecorder(r), id)
		return http.StatusOK, a, err
	}, func() { s.links.evictAffiliate(p.OrgID, id) })
}
