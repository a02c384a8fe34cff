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

import "strings"

// CampaignChanges is the body of a campaign's create or update: a nil
// field is absent and keeps its value (or its default on create).
type CampaignChanges struct {
	Name            *string             `json:"name"`
	Currency        *string             `json:"currency"`
	Commission      *CommissionRule     `json:"commission"`
	Recurrence      *Recurrence         `json:"recurrence"`
	Attribution     *AttributionChanges `json:"attribution"`
	HoldDays        *int                `json:"hold_days"`
	MinPayoutAmount *int64              `json:"min_payout_amount"`
}

// AttributionChanges sets the attribution fields it has.
type AttributionChanges struct {
	WindowDays *int              `json:"window_days"`
	Model      *AttributionModel `json:"model"`
}

// NewCampaign is the campaign ch creates: the schema's defaults (one-time,
// a 60-day last-click window, a 30-day hold) with ch's fields set. Name,
// currency and commission are required; a missing one is reported as such
// instead of what validation says of its zero value.
func NewCampaign(ch CampaignChanges) (Campaign, FieldErrors) {
	c := Campaign{Object: "campaign", Recurrence: Recurrence{Type: RecurrenceOneTime},
		Attribution: Attribution{WindowDays: 60, Model: LastClick}, HoldDays: 30}
	ch.apply(&c)
	missing := map[string]bool{"name": ch.Name == nil, "currency": ch.Currency == nil, "commission": ch.Commission == nil}
	var errs FieldErrors
	for _, f := range []string{"name", "currency", "commission"} {
		if missing[f] {
			errs.Add(f, "is required")
		}
	}
	for _, e := range c.Validate() {
		if top, _, _ := strings.Cut(e.Field, "."); !missing[top] {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return Campaign{}, errs
	}
	return c, nil
}

// apply sets the fields present in ch and returns the JSON names of those
// whose value changed.
func (ch CampaignChanges) apply(c *Campaign) []string {
	var changed []string
	set := func(name string, differs bool, assign func()) {
		if differs {
			changed = append(changed, name)
		}
		assign()
	}
	if ch.Name != nil {
		set("name", *ch.Name != c.Name, func() { c.Name = *ch.Name })
	}
	if ch.Currency != nil {
		set("currency", *ch.Currency != c.Currency, func() { c.Currency = *ch.Currency })
	}
	if ch.Commission != nil {
		set("commission", !ch.Commission.same(c.Commission), func() { c.Commission = *ch.Commission })
	}
	if ch.Recurrence != nil {
		set("recurrence", !ch.Recurrence.same(c.Recurrence), func() { c.Recurrence = *ch.Recurrence })
	}
	if a := ch.Attribution; a != nil {
		next := c.Attribution
		if a.WindowDays != nil {
			next.WindowDays = *a.WindowDays
		}
		if a.Model != nil {
			next.Model = *a.Model
		}
		set("attribution", next != c.Attribution, func() { c.Attribution = next })
	}
	if ch.HoldDays != nil {
		set("hold_days", *ch.HoldDays != c.HoldDays, func() { c.HoldDays = *ch.HoldDays })
	}
	if ch.MinPayoutAmount != nil {
		set("min_payout_amount", *ch.MinPayoutAmount != c.MinPayoutAmount, func() { c.MinPayoutAmount = *ch.MinPayoutAmount })
	}
	return changed
}

func (r CommissionRule) same(o CommissionRule) bool {
	return r.Type == o.Type && equalPtr(r.PercentBps, o.PercentBps) && equalPtr(r.Amount, o.Amount)
}

func (r Recurrence) same(o Recurrence) bool {
	return r.Type == o.Type && equalPtr(r.Months, o.Months)
}

// equalPtr says whether a and b are both nil or point to equal values.
func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// Validate returns what is wrong with c's fields, nil when nothing is.
func (c Campaign) Validate() FieldErrors {
	var errs FieldErrors
	if !ValidText(c.Name, 1, 200) {
		errs.Add("name", "must be 1 to 200 characters")
	}
	if !ValidCurrency(c.Currency) {
		errs.Add("currency", "must be an ISO 4217 currency code in upper case, such as EUR")
	}
	errs = append(errs, c.Commission.validate()...)
	errs = append(errs, c.Recurrence.validate()...)
	if w := c.Attribution.WindowDays; w < 1 || w > 365 {
		errs.Add("attribution.window_days", "must be 1 to 365")
	}
	if m := c.Attribution.Model; m != FirstClick && m != LastClick {
		errs.Add("attribution.model", "must be first_click or last_click")
	}
	if c.HoldDays < 0 || c.HoldDays > 365 {
		errs.Add("hold_days", "must be 0 to 365")
	}
	if c.MinPayoutAmount < 0 {
		errs.Add("min_payout_amount", "must be an integer amount of minor units, 0 or more")
	}
	return errs
}

func (r CommissionRule) validate() FieldErrors {
	var errs FieldErrors
	switch r.Type {
	case CommissionPercentage:
		if r.PercentBps == nil || *r.PercentBps < 1 || *r.PercentBps > 10000 {
			errs.Add("commission.percent_bps", "must be 1 to 10000 basis points")
		}
		if r.Amount != nil {
			errs.Add("commission.amount", "is only for a flat commission")
		}
	case CommissionFlat:
		if r.Amount == nil || *r.Amount < 1 {
			errs.Add("commission.amount", "must be an integer amount of minor units, 1 or more")
		}
		if r.PercentBps != nil {
			errs.Add("commission.percent_bps", "is only for a percentage commission")
		}
	default:
		errs.Add("commission.type", "must be percentage or flat")
	}
	return errs
}

func (r Recurrence) validate() FieldErrors {
	switch {
	case r.Type == RecurrenceRecurring && (r.Months == nil || *r.Months < 1 || *r.Months > 120):
		return FieldErrors{{Field: "recurrence.months", Detail: "must be 1 to 120 for a recurring commission"}}
	case r.Type == RecurrenceRecurring:
		return nil
	case r.Type != RecurrenceOneTime && r.Type != RecurrenceLifetime:
		return FieldErrors{{Field: "recurrence.type", Detail: "must be one_time, recurring or lifetime"}}
	case r.Months != nil:
		return FieldErrors{{Field: "recurrence.months", Detail: "is only for a recurring commission"}}
	}
	return nil
}
