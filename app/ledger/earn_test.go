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

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestPercentOf(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		amount int64
		bps    int
		want   int64
	}{
		"exact":                          {10000, 1000, 1000},
		"half rounds up":                 {5, 1000, 1},
		"below half rounds down":         {4, 1000, 0},
		"just below half rounds down":    {49999, 1, 5},
		"half of a minor unit at 12.5%":  {4, 1250, 1},
		"all of it":                      {123456789, 10000, 123456789},
		"the largest amount at 100%":     {9223372036854775807, 10000, 9223372036854775807},
		"the largest amount at 99.99%":   {9223372036854775807, 9999, 9222449699651090329},
		"zero":                           {0, 5000, 0},
		"one basis point of one hundred": {100, 1, 0},
	}
	for name, tc := range cases {
		require.Equal(t, tc.want, percentOf(tc.amount, tc.bps), name)
	}
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		from   string
		months int
		want   string
	}{
		"same day next month":      {"2025-01-15T10:00:00Z", 1, "2025-02-15T10:00:00Z"},
		"clamped to February":      {"2025-01-31T10:00:00Z", 1, "2025-02-28T10:00:00Z"},
		"clamped to a leap day":    {"2024-01-31T10:00:00Z", 1, "2024-02-29T10:00:00Z"},
		"across a year":            {"2025-11-30T23:59:59Z", 3, "2026-02-28T23:59:59Z"},
		"ten years":                {"2024-02-29T00:00:00Z", 120, "2034-02-28T00:00:00Z"},
		"other zones are read UTC": {"2025-01-31T23:30:00-02:00", 1, "2025-03-01T01:30:00Z"},
	}
	for name, tc := range cases {
		from, err := time.Parse(time.RFC3339, tc.from)
		require.NoError(t, err)
		require.Equal(t, tc.want, addMonths(from, tc.months).Format(time.RFC3339), name)
	}
}

func TestDecideCommission(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)
	first := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	bps, flat, months := 1000, int64(700), 2
	facts := func(edit func(*EarningFacts)) *EarningFacts {
		f := &EarningFacts{AffiliateStatus: "active", CampaignID: uuid.New(), CommissionType: "percentage", PercentBps: &bps,
			CampaignCurrency: "EUR", Recurrence: "one_time", HoldDays: 30}
		if edit != nil {
			edit(f)
		}
		return f
	}
	sale := SaleFacts{Amount: 5000, Currency: "USD", OccurredAt: at}
	cases := map[string]struct {
		facts  *EarningFacts
		sale   SaleFacts
		want   Earned
		reason string
	}{
		"a first sale earns a percentage in the sale's currency": {facts(nil), sale, Earned{500, "USD", at.AddDate(0, 0, 30)}, ""},
		"a flat commission is in the campaign's currency": {facts(func(f *EarningFacts) {
			f.CommissionType, f.PercentBps, f.FlatAmount = "flat", nil, &flat
		}), sale, Earned{700, "EUR", at.AddDate(0, 0, 30)}, ""},
		"not attributed":        {nil, sale, Earned{}, "not_attributed"},
		"self-referral":         {facts(nil), SaleFacts{Amount: 5000, Currency: "USD", OccurredAt: at, SelfReferral: true}, Earned{}, "self_referral"},
		"suspended affiliate":   {facts(func(f *EarningFacts) { f.AffiliateStatus = "suspended" }), sale, Earned{}, "affiliate_not_active"},
		"invited affiliate":     {facts(func(f *EarningFacts) { f.AffiliateStatus = "invited" }), sale, Earned{}, "affiliate_not_active"},
		"archived campaign":     {facts(func(f *EarningFacts) { f.Archived = true }), sale, Earned{}, "campaign_archived"},
		"one_time already paid": {facts(func(f *EarningFacts) { f.FirstEarned = &first }), sale, Earned{}, "recurrence_exhausted"},
		"recurring within its months": {facts(func(f *EarningFacts) { f.Recurrence, f.RecurringMonths, f.FirstEarned = "recurring", &months, &first }),
			sale, Earned{500, "USD", at.AddDate(0, 0, 30)}, ""},
		"recurring at its end": {facts(func(f *EarningFacts) { f.Recurrence, f.RecurringMonths, f.FirstEarned = "recurring", &months, &first }),
			SaleFacts{Amount: 5000, Currency: "USD", OccurredAt: first.AddDate(0, 2, 0)}, Earned{}, "recurrence_exhausted"},
		"lifetime after years": {facts(func(f *EarningFacts) { f.Recurrence, f.FirstEarned = "lifetime", &first }),
			SaleFacts{Amount: 5000, Currency: "USD", OccurredAt: first.AddDate(9, 0, 0)}, Earned{500, "USD", first.AddDate(9, 0, 30)}, ""},
		"rounds to nothing": {facts(nil), SaleFacts{Amount: 4, Currency: "USD", OccurredAt: at}, Earned{}, "zero_amount"},
	}
	for name, tc := range cases {
		got, reason := DecideCommission(tc.facts, tc.sale)
		require.Equal(t, tc.reason, reason, name)
		require.Equal(t, tc.want, got, name)
	}
}
