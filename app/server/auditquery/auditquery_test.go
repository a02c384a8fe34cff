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

package auditquery

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/ledger"
)

func TestParse(t *testing.T) {
	t.Parallel()

	t.Run("ReadsEveryParameter", func(t *testing.T) {
		t.Parallel()
		values, err := url.ParseQuery("actor_type=api_key&actor_id=k1&action=campaign.created&target_type=campaign" +
			"&target_id=c1&occurred_after=2026-01-01T00:00:00Z&occurred_before=2026-02-01T00:00:00Z&q=winter" +
			"&match=ada%40example.com&match_field=email&limit=5&starting_after=42")
		require.NoError(t, err)
		q, errs := Parse(values, true, 25)
		require.Empty(t, errs)
		after, before := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		require.Equal(t, "api_key", q.Filter.ActorType)
		require.Equal(t, "k1", q.Filter.ActorID)
		require.Equal(t, "campaign.created", q.Filter.Action)
		require.Equal(t, "campaign", q.Filter.TargetType)
		require.Equal(t, "c1", q.Filter.TargetID)
		require.Equal(t, "winter", q.Filter.Text)
		require.Equal(t, "ada@example.com", q.Filter.Match)
		require.Equal(t, "email", q.Filter.MatchField)
		require.True(t, after.Equal(*q.Filter.After) && before.Equal(*q.Filter.Before))
		require.Equal(t, 5, q.Limit)
		require.Equal(t, int64(42), q.StartingAfter)
	})

	t.Run("DefaultsTheLimit", func(t *testing.T) {
		t.Parallel()
		q, errs := Parse(url.Values{}, true, 25)
		require.Empty(t, errs)
		require.Equal(t, 25, q.Limit)
		require.Zero(t, q.StartingAfter)
	})

	t.Run("RefusesEachBadParameter", func(t *testing.T) {
		t.Parallel()
		for query, want := range map[string]ledger.FieldError{
			"colour=red":                    {Field: "colour", Detail: "is not a known parameter"},
			"action=a&action=b":             {Field: "action", Detail: "must be given at most once"},
			"limit=5":                       {}, // checked below: refused only when not paged
			"actor_type=root":               {Field: "actor_type", Detail: "must be one of api_key, member, operator, provider, system, admin"},
			"occurred_after=yesterday":      {Field: "occurred_after", Detail: "must be an RFC 3339 timestamp, such as 2026-01-02T15:04:05Z"},
			"match_field=email":             {Field: "match_field", Detail: "needs a match"},
			"match=x&match_field=Email":     {Field: "match_field", Detail: "must be a personal field name, such as email, ip or destination_url"},
			"q=" + strings.Repeat("x", 201): {Field: "q", Detail: "must be UTF-8 text of at most 200 characters"},
			"actor_id=a%00b":                {Field: "actor_id", Detail: "must be UTF-8 text of at most 255 characters"},
			"occurred_after=2026-02-01T00:00:00Z&occurred_before=2026-01-01T00:00:00Z": {Field: "occurred_before",
				Detail: "must be later than occurred_after"},
		} {
			values, err := url.ParseQuery(query)
			require.NoError(t, err)
			if want.Field == "" {
				_, errs := Parse(values, false, 25)
				require.Equal(t, []ledger.FieldError{{Field: "limit", Detail: "is not a known parameter"}}, errs)
				continue
			}
			_, errs := Parse(values, true, 25)
			require.Equal(t, []ledger.FieldError{want}, errs, query)
		}
	})

	t.Run("RefusesABadPage", func(t *testing.T) {
		t.Parallel()
		for query, field := range map[string]string{"limit=0": "limit", "limit=101": "limit", "limit=x": "limit",
			"starting_after=0": "starting_after", "starting_after=-3": "starting_after"} {
			values, err := url.ParseQuery(query)
			require.NoError(t, err)
			_, errs := Parse(values, true, 25)
			require.Len(t, errs, 1, query)
			require.Equal(t, field, errs[0].Field, query)
		}
	})
}
