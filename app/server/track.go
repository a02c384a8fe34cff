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
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
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
}

// tracking is a validated lead or sale.
type tracking struct {
	kind               string
	customerExternalID string
	email              *string
	visitorID          *uuid.UUID
	referralCode       *string
	externalID         *string
	occurredAt         time.Time
	amount             int64
	currency           *string
}

// maxClockSkew is how far in the future a conversion may say it happened.
const maxClockSkew = 5 * time.Minute

// earliestOccurredAt bounds how far back a conversion may be dated.
var earliestOccurredAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var referralCodePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)

// validate checks a lead's fields against now.
func (in trackLeadInput) validate(now time.Time) (tracking, ledger.FieldErrors) {
	t := tracking{kind: "lead", externalID: in.ExternalID, referralCode: in.ReferralCode, occurredAt: now.UTC()}
	var errs ledger.FieldErrors
	switch {
	case in.Customer == nil:
		errs.Add("customer", "is required")
	case in.Customer.ExternalID == nil:
		errs.Add("customer.external_id", "is required")
	default:
		t.customerExternalID, t.email = *in.Customer.ExternalID, in.Customer.Email
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
		t.visitorID = &id
	}
	if c := in.ReferralCode; c != nil && !referralCodePattern.MatchString(*c) {
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
		t.occurredAt = at.UTC()
	}
	return t, errs
}

// validate checks a sale's fields against now.
func (in trackSaleInput) validate(now time.Time) (tracking, ledger.FieldErrors) {
	t, errs := in.trackLeadInput.validate(now)
	t.kind, t.currency = "sale", in.Currency
	if in.ExternalID == nil {
		errs.Add("external_id", "is required: the order or invoice id")
	}
	switch {
	case in.Amount == nil:
		errs.Add("amount", "is required")
	case *in.Amount < 0:
		errs.Add("amount", "must be an integer amount of minor units, 0 or more")
	default:
		t.amount = *in.Amount
	}
	switch {
	case in.Currency == nil:
		errs.Add("currency", "is required")
	case !currencies[*in.Currency]:
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
	conversionObject
	Customer customerObject `json:"customer"`
}

// saleTracked adds the commission the sale earned, or null.
type saleTracked struct {
	leadTracked
	Commission *commissionObject `json:"commission"`
}

func (s *Server) track(w http.ResponseWriter, r *http.Request, t tracking, errs ledger.FieldErrors) {
	if len(errs) > 0 {
		validationFailed(w, r, errs)
		return
	}
	s.mutate(w, r, "tracking a "+t.kind, func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		org := principalFrom(ctx).OrgID
		answer, created, err := recordTrackingOnce(ctx, tx, org, s.requestAuditor(r), t)
		switch {
		case err != nil:
			return 0, nil, err
		case !created:
			answer, err = readTracked(ctx, tx, org, t)
			return http.StatusOK, answer, err
		}
		return http.StatusCreated, answer, nil
	})
}

// auditor appends the audit entries of changes for whoever made them: the
// API key of a request, or the provider of a webhook event.
type auditor struct {
	sealer *audit.Sealer
	entry  func(action, targetType, targetID string, metadata map[string]any) audit.Entry
}

// append adds the entry of action on the target, with metadata and the
// personal values to seal (nil: none), to org's audit log in tx.
func (a auditor) append(ctx context.Context, tx pgx.Tx, org uuid.UUID, action, targetType, targetID string,
	metadata map[string]any, personal map[string]string) error {
	e := a.entry(action, targetType, targetID, metadata)
	e.Personal = personal
	_, err := a.sealer.Append(ctx, tx, org, e)
	return err
}

// requestAuditor audits changes as made by r's API key.
func (s *Server) requestAuditor(r *http.Request) auditor {
	return auditor{sealer: s.sealer, entry: func(action, targetType, targetID string, metadata map[string]any) audit.Entry {
		return s.auditEntry(r, action, targetType, targetID, metadata)
	}}
}

// recordTrackingOnce records t unless a conversion of the same kind and
// external id exists, and reports whether it did. A savepoint lets a
// duplicate that lost the race on the conversion's unique key undo its
// customer upsert, changing nothing.
func recordTrackingOnce(ctx context.Context, tx pgx.Tx, org uuid.UUID, aud auditor, t tracking) (any, bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("starting a savepoint: %w", err)
	}
	answer, err := recordTracking(ctx, sp, org, aud, t)
	if errors.Is(err, errDuplicateConversion) {
		if err := sp.Rollback(ctx); err != nil {
			return nil, false, fmt.Errorf("rolling back to the savepoint: %w", err)
		}
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := sp.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("releasing the savepoint: %w", err)
	}
	return answer, true, nil
}

// errDuplicateConversion: a conversion of the same kind and external id
// exists.
var errDuplicateConversion = errors.New("the conversion was already tracked")

// recordTracking upserts and attributes the customer, records the
// conversion and, for a sale, the commission it earns, and audits it all in
// one entry.
func recordTracking(ctx context.Context, tx pgx.Tx, org uuid.UUID, aud auditor, t tracking) (any, error) {
	cust, _, err := upsertCustomer(ctx, tx, org, t)
	if err != nil {
		return nil, err
	}
	wasAttributed := cust.AffiliateID != nil
	if cust, err = attribute(ctx, tx, org, cust, t); err != nil {
		return nil, err
	}
	var facts *earningFacts
	if cust.AffiliateID != nil && cust.LinkID != nil {
		if facts, err = readEarningFacts(ctx, tx, org, cust); err != nil {
			return nil, err
		}
	}
	conv, err := insertConversion(ctx, tx, org, t, cust, facts)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{"customer_id": cust.ID, "affiliate_id": cust.AffiliateID, "campaign_id": conv.CampaignID,
		"attributed": !wasAttributed && cust.AffiliateID != nil, "self_referral": cust.SelfReferral}
	lead := leadTracked{conversionObject: conv, Customer: cust}
	var answer any = lead
	if t.kind == "sale" {
		meta["amount"], meta["currency"] = conv.Amount, conv.Currency
		commission, err := earnCommission(ctx, tx, org, conv, cust, facts, meta)
		if err != nil {
			return nil, err
		}
		answer = saleTracked{leadTracked: lead, Commission: commission}
	}
	err = aud.append(ctx, tx, org, "conversion."+t.kind+"_tracked", "conversion", conv.ID.String(), meta, nil)
	return answer, err
}

// insertConversion records the conversion, or returns
// errDuplicateConversion when its external id is taken (waiting, if a
// concurrent transaction holds it, for that one to end).
func insertConversion(ctx context.Context, tx pgx.Tx, org uuid.UUID, t tracking, cust customerObject, facts *earningFacts) (conversionObject, error) {
	var campaignID *uuid.UUID
	if facts != nil {
		campaignID = &facts.campaignID
	}
	conv, err := scanConversion(tx.QueryRow(ctx, `INSERT INTO conversions (org_id, customer_id, kind, external_id, amount,
		currency, affiliate_id, campaign_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (org_id, kind, external_id) DO NOTHING RETURNING `+conversionColumns,
		org, cust.ID, t.kind, t.externalID, t.amount, t.currency, cust.AffiliateID, campaignID, t.occurredAt))
	if errors.Is(err, db.ErrNotFound) {
		return conversionObject{}, errDuplicateConversion
	}
	if err != nil {
		return conversionObject{}, fmt.Errorf("recording the %s: %w", t.kind, err)
	}
	return conv, nil
}

// readTracked answers a conversion tracked before, as it was recorded.
func readTracked(ctx context.Context, tx pgx.Tx, org uuid.UUID, t tracking) (any, error) {
	conv, err := scanConversion(tx.QueryRow(ctx, `SELECT `+conversionColumns+` FROM conversions
		WHERE org_id = $1 AND kind = $2 AND external_id = $3`, org, t.kind, t.externalID))
	if err != nil {
		return nil, fmt.Errorf("reading the tracked %s: %w", t.kind, err)
	}
	cust, err := scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE org_id = $1 AND id = $2`,
		org, conv.CustomerID))
	if err != nil {
		return nil, fmt.Errorf("reading the tracked %s's customer: %w", t.kind, err)
	}
	lead := leadTracked{conversionObject: conv, Customer: cust}
	if t.kind == "lead" {
		return lead, nil
	}
	c, err := scanCommission(tx.QueryRow(ctx, `SELECT `+commissionColumns+` FROM commissions
		WHERE org_id = $1 AND conversion_id = $2`, org, conv.ID))
	if errors.Is(err, db.ErrNotFound) {
		return saleTracked{leadTracked: lead}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the tracked sale's commission: %w", err)
	}
	return saleTracked{leadTracked: lead, Commission: &c}, nil
}
