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
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// campaignObject is a campaign's commission rules as the API shows them.
// Money is in integer minor units of the campaign's currency.
type campaignObject struct {
	Object          string      `json:"object"`
	ID              uuid.UUID   `json:"id"`
	Name            string      `json:"name"`
	Currency        string      `json:"currency"`
	Commission      commission  `json:"commission"`
	Recurrence      recurrence  `json:"recurrence"`
	Attribution     attribution `json:"attribution"`
	HoldDays        int         `json:"hold_days"`
	MinPayoutAmount int64       `json:"min_payout_amount"`
	ArchivedAt      *time.Time  `json:"archived_at"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
}

// commission is {type: "percentage", percent_bps} or {type: "flat", amount}.
type commission struct {
	Type       string `json:"type"`
	PercentBps *int   `json:"percent_bps,omitempty"`
	Amount     *int64 `json:"amount,omitempty"`
}

// recurrence says which of a customer's payments earn commission; months is
// set for recurring only.
type recurrence struct {
	Type   string `json:"type"`
	Months *int   `json:"months"`
}

type attribution struct {
	WindowDays int    `json:"window_days"`
	Model      string `json:"model"`
}

const campaignColumns = `id, name, currency, commission_type, commission_bps, commission_amount, recurrence, recurring_months,
	attribution_window_days, attribution_model, hold_days, min_payout_amount, archived_at, created_at, updated_at`

func scanCampaign(row pgx.Row) (campaignObject, error) {
	c := campaignObject{Object: "campaign"}
	err := row.Scan(&c.ID, &c.Name, &c.Currency, &c.Commission.Type, &c.Commission.PercentBps, &c.Commission.Amount,
		&c.Recurrence.Type, &c.Recurrence.Months, &c.Attribution.WindowDays, &c.Attribution.Model,
		&c.HoldDays, &c.MinPayoutAmount, &c.ArchivedAt, &c.CreatedAt, &c.UpdatedAt)
	return c, db.MapError(err)
}

// campaignInput is the body of a create or an update: a nil field is absent
// and keeps its value (or its default on create).
type campaignInput struct {
	Name            *string           `json:"name"`
	Currency        *string           `json:"currency"`
	Commission      *commission       `json:"commission"`
	Recurrence      *recurrence       `json:"recurrence"`
	Attribution     *attributionInput `json:"attribution"`
	HoldDays        *int              `json:"hold_days"`
	MinPayoutAmount *int64            `json:"min_payout_amount"`
}

type attributionInput struct {
	WindowDays *int    `json:"window_days"`
	Model      *string `json:"model"`
}

// newCampaign is a campaign with the defaults the schema gives.
func newCampaign() campaignObject {
	return campaignObject{Object: "campaign", Recurrence: recurrence{Type: "one_time"},
		Attribution: attribution{WindowDays: 60, Model: "last_click"}, HoldDays: 30}
}

// apply sets the fields present in in and returns the JSON names of those
// whose value changed.
func (in campaignInput) apply(c *campaignObject) []string {
	var changed []string
	set := func(name string, differs bool, assign func()) {
		if differs {
			changed = append(changed, name)
		}
		assign()
	}
	if in.Name != nil {
		set("name", *in.Name != c.Name, func() { c.Name = *in.Name })
	}
	if in.Currency != nil {
		set("currency", *in.Currency != c.Currency, func() { c.Currency = *in.Currency })
	}
	if in.Commission != nil {
		set("commission", !sameCommission(*in.Commission, c.Commission), func() { c.Commission = *in.Commission })
	}
	if in.Recurrence != nil {
		set("recurrence", !sameRecurrence(*in.Recurrence, c.Recurrence), func() { c.Recurrence = *in.Recurrence })
	}
	if a := in.Attribution; a != nil {
		next := c.Attribution
		if a.WindowDays != nil {
			next.WindowDays = *a.WindowDays
		}
		if a.Model != nil {
			next.Model = *a.Model
		}
		set("attribution", next != c.Attribution, func() { c.Attribution = next })
	}
	if in.HoldDays != nil {
		set("hold_days", *in.HoldDays != c.HoldDays, func() { c.HoldDays = *in.HoldDays })
	}
	if in.MinPayoutAmount != nil {
		set("min_payout_amount", *in.MinPayoutAmount != c.MinPayoutAmount, func() { c.MinPayoutAmount = *in.MinPayoutAmount })
	}
	return changed
}

func sameCommission(a, b commission) bool {
	return a.Type == b.Type && equalPtr(a.PercentBps, b.PercentBps) && equalPtr(a.Amount, b.Amount)
}

func sameRecurrence(a, b recurrence) bool {
	return a.Type == b.Type && equalPtr(a.Months, b.Months)
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func (c campaignObject) validate() []ledger.FieldError {
	var errs []ledger.FieldError
	bad := func(field, detail string) { errs = append(errs, ledger.FieldError{Field: field, Detail: detail}) }
	if n := utf8.RuneCountInString(c.Name); n < 1 || n > 200 {
		bad("name", "must be 1 to 200 characters")
	}
	if !ledger.ValidCurrency(c.Currency) {
		bad("currency", "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	errs = append(errs, c.Commission.validate()...)
	errs = append(errs, c.Recurrence.validate()...)
	if w := c.Attribution.WindowDays; w < 1 || w > 365 {
		bad("attribution.window_days", "must be 1 to 365")
	}
	if m := c.Attribution.Model; m != "first_click" && m != "last_click" {
		bad("attribution.model", "must be first_click or last_click")
	}
	if c.HoldDays < 0 || c.HoldDays > 365 {
		bad("hold_days", "must be 0 to 365")
	}
	if c.MinPayoutAmount < 0 {
		bad("min_payout_amount", "must be an integer amount of minor units, 0 or more")
	}
	return errs
}

func (c commission) validate() []ledger.FieldError {
	var errs []ledger.FieldError
	bad := func(field, detail string) { errs = append(errs, ledger.FieldError{Field: field, Detail: detail}) }
	switch c.Type {
	case "percentage":
		if c.PercentBps == nil || *c.PercentBps < 1 || *c.PercentBps > 10000 {
			bad("commission.percent_bps", "must be 1 to 10000 basis points")
		}
		if c.Amount != nil {
			bad("commission.amount", "is only for a flat commission")
		}
	case "flat":
		if c.Amount == nil || *c.Amount < 1 {
			bad("commission.amount", "must be an integer amount of minor units, 1 or more")
		}
		if c.PercentBps != nil {
			bad("commission.percent_bps", "is only for a percentage commission")
		}
	default:
		bad("commission.type", "must be percentage or flat")
	}
	return errs
}

func (r recurrence) validate() []ledger.FieldError {
	switch {
	case r.Type == "recurring" && (r.Months == nil || *r.Months < 1 || *r.Months > 120):
		return []ledger.FieldError{{Field: "recurrence.months", Detail: "must be 1 to 120 for a recurring commission"}}
	case r.Type == "recurring":
		return nil
	case r.Type != "one_time" && r.Type != "lifetime":
		return []ledger.FieldError{{Field: "recurrence.type", Detail: "must be one_time, recurring or lifetime"}}
	case r.Months != nil:
		return []ledger.FieldError{{Field: "recurrence.months", Detail: "is only for a recurring commission"}}
	}
	return nil
}

// decodeCampaignCreate reads and validates the body of a create. On
// failure it has written the problem and returns false.
func decodeCampaignCreate(w http.ResponseWriter, r *http.Request) (campaignObject, bool) {
	var in campaignInput
	if !decodeJSON(w, r, &in) {
		return campaignObject{}, false
	}
	c := newCampaign()
	in.apply(&c)
	if errs := in.requireForCreate(c.validate()); len(errs) > 0 {
		validationFailed(w, r, errs)
		return campaignObject{}, false
	}
	return c, true
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := decodeCampaignCreate(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "creating a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		created, err := insertCampaign(ctx, tx, p.OrgID, c)
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "campaign.created", "campaign", created.ID.String(),
			map[string]any{"name": created.Name}))
		return http.StatusCreated, created, err
	})
}

// insertCampaign stores a validated campaign and returns it as stored.
func insertCampaign(ctx context.Context, tx pgx.Tx, org uuid.UUID, c campaignObject) (campaignObject, error) {
	return scanCampaign(tx.QueryRow(ctx, `INSERT INTO campaigns (org_id, name, currency, commission_type,
		commission_bps, commission_amount, recurrence, recurring_months, attribution_window_days, attribution_model,
		hold_days, min_payout_amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING `+campaignColumns,
		org, c.Name, c.Currency, c.Commission.Type, c.Commission.PercentBps, c.Commission.Amount, c.Recurrence.Type,
		c.Recurrence.Months, c.Attribution.WindowDays, c.Attribution.Model, c.HoldDays, c.MinPayoutAmount))
}

// requireForCreate reports the fields a create needs that are missing, in
// place of what validation said about their zero values.
func (in campaignInput) requireForCreate(errs []ledger.FieldError) []ledger.FieldError {
	missing := map[string]bool{"name": in.Name == nil, "currency": in.Currency == nil, "commission": in.Commission == nil}
	var out []ledger.FieldError
	for _, f := range []string{"name", "currency", "commission"} {
		if missing[f] {
			out = append(out, ledger.FieldError{Field: f, Detail: "is required"})
		}
	}
	for _, e := range errs {
		if top, _, _ := strings.Cut(e.Field, "."); !missing[top] {
			out = append(out, e)
		}
	}
	return out
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	getOne(s, w, r, "reading a campaign", selectByID("campaigns", campaignColumns, scanCampaign))
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	page, ok := parsePage(w, r)
	if !ok {
		return
	}
	includeArchived, err := strconv.ParseBool(r.URL.Query().Get("include_archived"))
	if v := r.URL.Query().Get("include_archived"); v != "" && err != nil {
		writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid query", Status: http.StatusBadRequest,
			Errors: []ledger.FieldError{{Field: "include_archived", Detail: "must be true or false"}}})
		return
	}
	s.list(w, r, "listing campaigns", func(ctx context.Context, tx pgx.Tx, org uuid.UUID) (any, error) {
		return ledger.ListPage(ctx, tx, org, ledger.Query[campaignObject]{Table: "campaigns", Columns: campaignColumns, Where: `$4 OR archived_at IS NULL`, Scan: scanCampaign}, page, includeArchived)
	})
}

func (s *Server) updateCampaign(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var in campaignInput
	if !decodeJSON(w, r, &in) {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "updating a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		c, err := scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE org_id = $1 AND id = $2 FOR UPDATE`, p.OrgID, id))
		if err != nil {
			return 0, nil, err
		}
		changed := in.apply(&c)
		if errs := c.validate(); len(errs) > 0 {
			return 0, nil, ledger.FieldErrors(errs)
		}
		if len(changed) == 0 {
			return http.StatusOK, c, nil
		}
		updated, err := scanCampaign(tx.QueryRow(ctx, `UPDATE campaigns SET name = $3, currency = $4, commission_type = $5,
			commission_bps = $6, commission_amount = $7, recurrence = $8, recurring_months = $9, attribution_window_days = $10,
			attribution_model = $11, hold_days = $12, min_payout_amount = $13, updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+campaignColumns,
			p.OrgID, id, c.Name, c.Currency, c.Commission.Type, c.Commission.PercentBps, c.Commission.Amount, c.Recurrence.Type,
			c.Recurrence.Months, c.Attribution.WindowDays, c.Attribution.Model, c.HoldDays, c.MinPayoutAmount))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "campaign.updated", "campaign", id.String(),
			map[string]any{"changed": changed}))
		return http.StatusOK, updated, err
	}, func() { s.links.evictCampaign(p.OrgID, id) }) // its links' cookies last its attribution window
}

func (s *Server) archiveCampaign(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	s.mutate(w, r, "archiving a campaign", func(ctx context.Context, tx pgx.Tx) (int, any, error) {
		c, err := scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE org_id = $1 AND id = $2 FOR UPDATE`, p.OrgID, id))
		if err != nil || c.ArchivedAt != nil {
			return http.StatusOK, c, err
		}
		archived, err := scanCampaign(tx.QueryRow(ctx, `UPDATE campaigns SET archived_at = now(), updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+campaignColumns, p.OrgID, id))
		if err != nil {
			return 0, nil, err
		}
		_, err = s.sealer.Append(ctx, tx, p.OrgID, s.auditEntry(r, "campaign.archived", "campaign", id.String(), nil))
		return http.StatusOK, archived, err
	})
}
