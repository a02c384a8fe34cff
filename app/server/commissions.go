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

func (s *Server) getCommission(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a commission", ledger.GetCommission)
}

func (s *Server) listCommissions(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	q := queryFilter{q: r.URL.Query()}
	f := ledger.CommissionFilter{Status: oneOf[ledger.Status](&q, "status", ledger.Pending, ledger.Approved, ledger.Paid, ledger.Reversed),
		AffiliateID: q.uuid("affiliate_id"), CampaignID: q.uuid("campaign_id")}
	if !q.ok(w, r) {
		return
	}
	s.list(w, r, "listing commissions", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListCommissions(ctx, tx, org, page, f)
	})
}

// commissionReverseInput is the body of POST /v1/commissions/{id}/reverse.
type commissionReverseInput struct {
	Reason *string `json:"reason"`
}

func (s *Server) reverseCommission(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var in commissionReverseInput
	if !decodeJSON(w, r, &in) {
		return
	}
	var errs ledger.FieldErrors
	if in.Reason == nil {
		errs.Add("reason", "is required")
	}
	errs.Text("reason", in.Reason, 1, 1000)
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "reversing a commission", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		c, err := ledger.ReverseCommission(ctx, tx, p.OrgID, s.requestRecorder(r), id, ledger.Reversal{Reason: *in.Reason})
		return http.StatusOK, c, err
	})
}
