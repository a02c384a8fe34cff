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
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/ledger"
)

// Server-side tracking: the merchant's backend reports a lead (a sign-up) or
// a sale (a payment) for one of its customers. The customer is upserted by
// its external id and, the first time a referral can be found for it,
// attributed to an affiliate; a sale then earns that affiliate at most one
// commission under the campaign's rules. A conversion's external id makes
// the call idempotent: the same id again answers the stored conversion.

// trackCustomerInput names the merchant's customer.
type trackCustomerInput struct {
	ExternalID *string `json:"external_id"`
	Email      *string `json:"email"`
}

// trackLeadInput is the body of POST /v1/track/lead.
type trackLeadInput struct {
	Customer     *trackCustomerInput `json:"customer"`
	VisitorID    *string             `json:"visitor_id"`
	ReferralCode *string             `json:"referral_code"`
	ExternalID   *string             `json:"external_id"`
	OccurredAt   *string             `json:"occurred_at"`
}

// trackSaleInput is the body of POST /v1/track/sale: a lead's fields plus
// the payment.
type trackSaleInput struct {
	trackLeadInput
	Amount   *int64  `json:"amount"`
	Currency *string `json:"currency"`
	// PromoCode is a promo code the sale carries: it attributes the
	// customer when no click or link code does.
	PromoCode *string `json:"promo_code"`
}

// maxClockSkew is how far in the future a conversion may say it happened.
const maxClockSkew = 5 * time.Minute

// earliestOccurredAt bounds how far back a conversion may be dated.
var earliestOccurredAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// validate checks a lead's fields against now.
func (in trackLeadInput) validate(now time.Time) (ledger.Tracking, ledger.FieldErrors) {
	t := ledger.Tracking{Kind: ledger.Lead, ExternalID: in.ExternalID, ReferralCode: in.ReferralCode, OccurredAt: now.UTC()}
	var errs ledger.FieldErrors
	switch {
	case in.Customer == nil:
		errs.Add("customer", "is required")
	case in.Customer.ExternalID == nil:
		errs.Add("customer.external_id", "is required")
	default:
		t.CustomerExternalID, t.Email = *in.Customer.ExternalID, in.Customer.Email
		errs.Text("customer.external_id", in.Customer.ExternalID, 1, 255)
		if e := in.Customer.Email; e != nil && !ledger.ValidContactEmail(*e) {
			errs.Add("customer.email", "must be an email address of at most 320 characters")
		}
	}
	if in.VisitorID != nil {
		id, err := uuid.Parse(*in.VisitorID)
		if err != nil {
			errs.Add("visitor_id", "must be the visitor id (a UUID) from the attribution cookie")
		}
		t.VisitorID = &id
	}
	if c := in.ReferralCode; c != nil && !ledger.ValidReferralCode(*c) {
		errs.Add("referral_code", "must be a link code: 4 to 64 letters, digits, _ or -")
	}
	errs.Text("external_id", in.ExternalID, 1, 255)
	if in.OccurredAt != nil {
		at, err := time.Parse(time.RFC3339, *in.OccurredAt)
		switch {
		case err != nil:
			errs.Add("occurred_at", "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z")
		case at.After(now.Add(maxClockSkew)):
			errs.Add("occurred_at", "must not be more than 5 minutes in the future")
		case at.Before(earliestOccurredAt):
			errs.Add("occurred_at", "must not be before 2000-01-01")
		}
		t.OccurredAt = at.UTC()
	}
	return t, errs
}

// validate checks a sale's fields against now.
func (in trackSaleInput) validate(now time.Time) (ledger.Tracking, ledger.FieldErrors) {
	t, errs := in.trackLeadInput.validate(now)
	t.Kind, t.Currency = ledger.Sale, in.Currency
	if c := in.PromoCode; c != nil {
		if !ledger.ValidPromoCode(strings.TrimSpace(*c)) {
			errs.Add("promo_code", ledger.PromoCodeRule)
		}
		t.PromoCodes = []string{*c}
	}
	if in.ExternalID == nil {
		errs.Add("external_id", "is required: the order or invoice id")
	}
	switch {
	case in.Amount == nil:
		errs.Add("amount", "is required")
	case *in.Amount < 0:
		errs.Add("amount", "must be an integer amount of minor units, 0 or more")
	default:
		t.Amount = *in.Amount
	}
	switch {
	case in.Currency == nil:
		errs.Add("currency", "is required")
	case !ledger.ValidCurrency(*in.Currency):
		errs.Add("currency", "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	return t, errs
}

func (s *Server) trackLead(w http.ResponseWriter, r *http.Request) {
	var in trackLeadInput
	if !decodeJSON(w, r, &in) {
		return
	}
	t, errs := in.validate(time.Now())
	s.track(w, r, t, errs)
}

func (s *Server) trackSale(w http.ResponseWriter, r *http.Request) {
	var in trackSaleInput
	if !decodeJSON(w, r, &in) {
		return
	}
	t, errs := in.validate(time.Now())
	s.track(w, r, t, errs)
}

// leadTracked is the answer to a tracked lead: the conversion and its
// customer as attributed.
type leadTracked struct {
	ledger.Conversion
	Customer ledger.Customer `json:"customer"`
}

// saleTracked adds the commission the sale earned, or null.
type saleTracked struct {
	leadTracked
	Commission *ledger.Commission `json:"commission"`
}

// trackedAnswer is the API's answer for t: a lead's without a commission
// field, a sale's with one.
func trackedAnswer(t ledger.Tracked) any {
	lead := leadTracked{Conversion: t.Conversion, Customer: t.Customer}
	if t.Conversion.Kind == ledger.Lead {
		return lead
	}
	return saleTracked{leadTracked: lead, Commission: t.Commission}
}

func (s *Server) track(w http.ResponseWriter, r *http.Request, t ledger.Tracking, errs ledger.FieldErrors) {
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	s.mutate(w, r, "tracking a "+string(t.Kind), func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		org := principalFrom(ctx).OrgID
		tracked, created, err := ledger.Track(ctx, tx, org, s.requestRecorder(r), t)
		switch {
		case err != nil:
			return 0, nil, err
		case !created:
			tracked, err = ledger.ReadTracked(ctx, tx, org, t)
			return http.StatusOK, trackedAnswer(tracked), err
		}
		return http.StatusCreated, trackedAnswer(tracked), nil
	})
}

// requestRecorder audits changes as made by r's API key.
func (s *Server) requestRecorder(r *http.Request) ledger.Recorder {
	return ledger.Recorder{Sealer: s.sealer, Entry: func(action, targetType, targetID string, metadata map[string]any) audit.Entry {
		return s.auditEntry(r, action, targetType, targetID, metadata)
	}}
}
