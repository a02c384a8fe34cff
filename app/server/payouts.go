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
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
)

// providerTimeout bounds one call to a payout provider.
const providerTimeout = 20 * time.Second

// payoutInput is the body of POST /v1/payouts.
type payoutInput struct {
	AffiliateID *string                `json:"affiliate_id"`
	Currency    *string                `json:"currency"`
	Provider    *ledger.PayoutProvider `json:"provider"`
}

// validate checks the body and returns the affiliate id it names.
func validatePayout(in payoutInput) (uuid.UUID, []ledger.FieldError) {
	var errs ledger.FieldErrors
	var affiliateID uuid.UUID
	if in.AffiliateID == nil {
		errs.Add("affiliate_id", "is required")
	} else if id, err := uuid.Parse(*in.AffiliateID); err != nil {
		errs.Add("affiliate_id", "must be an affiliate id")
	} else {
		affiliateID = id
	}
	switch {
	case in.Currency == nil:
		errs.Add("currency", "is required")
	case !ledger.ValidCurrency(*in.Currency):
		errs.Add("currency", "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	switch {
	case in.Provider == nil:
		errs.Add("provider", "is required")
	case !in.Provider.Valid():
		errs.Add("provider", "must be stripe_connect or manual")
	}
	return affiliateID, errs
}

func (s *Server) createPayout(w http.ResponseWriter, r *http.Request) {
	var in payoutInput
	if !decodeJSON(w, r, &in) {
		return
	}
	affiliateID, errs := validatePayout(in)
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "creating a payout", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		created, err := ledger.CreatePayout(ctx, tx, p.OrgID, s.requestRecorder(r),
			ledger.NewPayout{AffiliateID: affiliateID, Currency: *in.Currency, Provider: *in.Provider})
		return http.StatusCreated, created, err
	})
}

func (s *Server) getPayout(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a payout", ledger.GetPayout)
}

func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	q := queryFilter{q: r.URL.Query()}
	f := ledger.PayoutFilter{AffiliateID: q.uuid("affiliate_id"),
		Status: oneOf[ledger.PayoutStatus](&q, "status", ledger.PayoutPending, ledger.PayoutDispatched, ledger.PayoutPaid, ledger.PayoutFailed)}
	if !q.ok(w, r) {
		return
	}
	s.list(w, r, "listing payouts", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPayouts(ctx, tx, org, page, f)
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
