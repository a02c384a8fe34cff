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

// Package auditquery reads the query parameters of the audit log, the same
// for GET /v1/audit-log, its CSV export and the admin pages' audit log,
// into an audit.Filter and a keyset page. It answers nothing: callers turn
// its field errors into their own answers.
package auditquery

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/ledger"
)

// MaxLimit is the largest page a query may ask for.
const MaxLimit = 100

// Query is a filter with its keyset page. The cursor is a seq: the
// newest-first page holds entries with a seq below it.
type Query struct {
	Filter        audit.Filter
	Limit         int
	StartingAfter int64 // 0: from the newest entry
}

// FilterParams returns the names of the filter parameters.
func FilterParams() []string {
	return []string{"actor_type", "actor_id", "action", "target_type", "target_id",
		"occurred_after", "occurred_before", "q", "match", "match_field"}
}

// pageParams are the names of the page parameters.
func pageParams() []string {
	return []string{"limit", "starting_after"}
}

// textParam is a free-text query parameter and its length limit.
type textParam struct {
	name string
	dst  *string
	max  int
}

// Parse reads the filters, and the page when paged is true, with the limit
// defaulting to defaultLimit; it returns one error per bad or unknown
// parameter.
func Parse(values url.Values, paged bool, defaultLimit int) (Query, []ledger.FieldError) {
	allowed := FilterParams()
	if paged {
		allowed = append(allowed, pageParams()...)
	}
	filter, filterErrs := parseFilter(values)
	q := Query{Filter: filter, Limit: defaultLimit}
	errs := append(UnknownParams(values, allowed), filterErrs...)
	if paged {
		errs = append(errs, q.parsePage(values)...)
	}
	return q, errs
}

// UnknownParams refuses parameters not in allowed, and any given twice.
func UnknownParams(values url.Values, allowed []string) []ledger.FieldError {
	var errs ledger.FieldErrors
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case !slices.Contains(allowed, name):
			errs.Add(name, "is not a known parameter")
		case len(values[name]) > 1:
			errs.Add(name, "must be given at most once")
		}
	}
	return errs
}

// parseFilter reads the filter parameters, with one error per bad one.
func parseFilter(values url.Values) (audit.Filter, []ledger.FieldError) {
	var f audit.Filter
	var errs ledger.FieldErrors
	for _, p := range []textParam{
		{"actor_id", &f.ActorID, 255}, {"action", &f.Action, 100}, {"target_type", &f.TargetType, 100},
		{"target_id", &f.TargetID, 255}, {"q", &f.Text, 200}, {"match", &f.Match, 2048},
	} {
		v := values.Get(p.name)
		if !ledger.ValidText(v, 0, p.max) {
			errs.Add(p.name, "must be UTF-8 text of at most "+strconv.Itoa(p.max)+" characters")
			continue
		}
		*p.dst = v
	}
	errs = append(errs, parseMatchField(&f, values.Get("match_field"))...)
	f.ActorType = values.Get("actor_type")
	if f.ActorType != "" && !slices.Contains(ActorTypes(), f.ActorType) {
		errs.Add("actor_type", "must be one of api_key, member, operator, provider, system, admin")
	}
	var err ledger.FieldError
	if f.After, err = parseTime(values, "occurred_after"); err.Field != "" {
		errs = append(errs, err)
	}
	if f.Before, err = parseTime(values, "occurred_before"); err.Field != "" {
		errs = append(errs, err)
	}
	if f.After != nil && f.Before != nil && !f.After.Before(*f.Before) {
		errs.Add("occurred_before", "must be later than occurred_after")
	}
	return f, errs
}

// ActorTypes returns every actor type the actor_type parameter accepts.
func ActorTypes() []string {
	return []string{audit.ActorAPIKey, audit.ActorMember, audit.ActorOperator, audit.ActorProvider, audit.ActorSystem, audit.ActorAdmin}
}

// parseMatchField reads match_field, the personal field a match looks in,
// into f; it needs a match.
func parseMatchField(f *audit.Filter, v string) []ledger.FieldError {
	switch {
	case v == "":
		return nil
	case len(v) > 64 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz_") != "":
		return []ledger.FieldError{{Field: "match_field", Detail: "must be a personal field name, such as email, ip or destination_url"}}
	case f.Match == "":
		return []ledger.FieldError{{Field: "match_field", Detail: "needs a match"}}
	}
	f.MatchField = v
	return nil
}

// parseTime reads an RFC 3339 timestamp; the ledger.FieldError is set on failure.
func parseTime(values url.Values, name string) (*time.Time, ledger.FieldError) {
	v := values.Get(name)
	if v == "" {
		return nil, ledger.FieldError{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, ledger.FieldError{Field: name, Detail: "must be an RFC 3339 timestamp, such as 2026-01-02T15:04:05Z"}
	}
	return &t, ledger.FieldError{}
}

func (q *Query) parsePage(values url.Values) []ledger.FieldError {
	var errs ledger.FieldErrors
	if v := values.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			errs.Add("limit", "must be an integer from 1 to 100")
		}
		q.Limit = n
	}
	if v := values.Get("starting_after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs.Add("starting_after", "must be the seq of an audit entry")
		}
		q.StartingAfter = n
	}
	return errs
}
