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
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rekomi/rekomi/app/ledger"

	"github.com/rekomi/rekomi/app/audit"
)

// auditFilter narrows an organization's audit log. Empty fields do not
// filter; occurred_after and occurred_before are exclusive bounds.
type auditFilter struct {
	actorType, actorID   string
	action               string
	targetType, targetID string
	after, before        *time.Time
	text                 string // q: case-insensitive substring of the fields that are not personal
	match, matchField    string // match: exact personal value, in matchField or any of audit.SearchedFields
}

// auditQuery is a filter with its keyset page. The cursor is a seq: the
// newest-first page holds entries with a seq below it.
type auditQuery struct {
	filter        auditFilter
	limit         int
	startingAfter int64 // 0: from the newest entry
}

// Query parameters of the audit log routes.
var (
	auditFilterParams = []string{"actor_type", "actor_id", "action", "target_type", "target_id",
		"occurred_after", "occurred_before", "q", "match", "match_field"}
	auditPageParams = []string{"limit", "starting_after"}
)

// textParam is a free-text query parameter and its length limit.
type textParam struct {
	name string
	dst  *string
	max  int
}

// parseAuditQuery reads the filters, and the page when paged is true; any
// other parameter is refused. On failure it has written a 400 problem with
// one error per bad parameter and returns false.
func parseAuditQuery(w http.ResponseWriter, r *http.Request, paged bool) (auditQuery, bool) {
	q, errs := auditQueryFrom(r.URL.Query(), paged, defaultPageLimit)
	if len(errs) > 0 {
		writeProblem(w, r, Problem{Type: "invalid_request", Title: "Invalid audit log query", Status: http.StatusBadRequest, Errors: errs})
		return auditQuery{}, false
	}
	return q, true
}

// auditQueryFrom reads the filters, and the page when paged is true, with
// limit defaulting to defaultLimit; it returns one error per bad or
// unknown parameter.
func auditQueryFrom(values url.Values, paged bool, defaultLimit int) (auditQuery, []ledger.FieldError) {
	allowed := auditFilterParams
	if paged {
		allowed = append(slices.Clone(auditFilterParams), auditPageParams...)
	}
	q := auditQuery{limit: defaultLimit}
	errs := unknownParams(values, allowed)
	errs = append(errs, q.filter.parse(values)...)
	if paged {
		errs = append(errs, q.parsePage(values)...)
	}
	return q, errs
}

// unknownParams refuses parameters not in allowed, and any given twice.
func unknownParams(values url.Values, allowed []string) []ledger.FieldError {
	var errs []ledger.FieldError
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case !slices.Contains(allowed, name):
			errs = append(errs, ledger.FieldError{Field: name, Detail: "is not a known parameter"})
		case len(values[name]) > 1:
			errs = append(errs, ledger.FieldError{Field: name, Detail: "must be given at most once"})
		}
	}
	return errs
}

func (f *auditFilter) parse(values url.Values) []ledger.FieldError {
	var errs []ledger.FieldError
	for _, p := range []textParam{
		{"actor_id", &f.actorID, 255}, {"action", &f.action, 100}, {"target_type", &f.targetType, 100},
		{"target_id", &f.targetID, 255}, {"q", &f.text, 200}, {"match", &f.match, 2048},
	} {
		v := values.Get(p.name)
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || utf8.RuneCountInString(v) > p.max {
			errs = append(errs, ledger.FieldError{Field: p.name, Detail: "must be UTF-8 text of at most " + strconv.Itoa(p.max) + " characters"})
			continue
		}
		*p.dst = v
	}
	errs = append(errs, f.parseMatchField(values.Get("match_field"))...)
	f.actorType = values.Get("actor_type")
	if f.actorType != "" && !validActorType(f.actorType) {
		errs = append(errs, ledger.FieldError{Field: "actor_type", Detail: "must be one of api_key, member, operator, provider, system, admin"})
	}
	var err ledger.FieldError
	if f.after, err = parseTime(values, "occurred_after"); err.Field != "" {
		errs = append(errs, err)
	}
	if f.before, err = parseTime(values, "occurred_before"); err.Field != "" {
		errs = append(errs, err)
	}
	if f.after != nil && f.before != nil && !f.after.Before(*f.before) {
		errs = append(errs, ledger.FieldError{Field: "occurred_before", Detail: "must be later than occurred_after"})
	}
	return errs
}

// parseMatchField reads match_field, which names the personal field a
// match looks in and needs a match.
func (f *auditFilter) parseMatchField(v string) []ledger.FieldError {
	switch {
	case v == "":
		return nil
	case len(v) > 64 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz_") != "":
		return []ledger.FieldError{{Field: "match_field", Detail: "must be a personal field name, such as email, ip or destination_url"}}
	case f.match == "":
		return []ledger.FieldError{{Field: "match_field", Detail: "needs a match"}}
	}
	f.matchField = v
	return nil
}

// matchIndexes are the blind indexes, under key, of the match value in
// the field it names or in each field a search looks in.
func (f auditFilter) matchIndexes(key *audit.OrgKey) [][]byte {
	fields := audit.SearchedFields
	if f.matchField != "" {
		fields = []string{f.matchField}
	}
	out := make([][]byte, len(fields))
	for i, field := range fields {
		out[i] = key.Index(field, f.match)
	}
	return out
}

func validActorType(s string) bool {
	return slices.Contains([]string{audit.ActorAPIKey, audit.ActorMember, audit.ActorOperator,
		audit.ActorProvider, audit.ActorSystem, audit.ActorAdmin}, s)
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

func (q *auditQuery) parsePage(values url.Values) []ledger.FieldError {
	var errs []ledger.FieldError
	if v := values.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			errs = append(errs, ledger.FieldError{Field: "limit", Detail: "must be an integer from 1 to 100"})
		}
		q.limit = n
	}
	if v := values.Get("starting_after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			errs = append(errs, ledger.FieldError{Field: "starting_after", Detail: "must be the seq of an audit entry"})
		}
		q.startingAfter = n
	}
	return errs
}
