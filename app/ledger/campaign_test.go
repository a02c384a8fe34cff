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

package ledger_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

// fieldNames lists the fields of errs, in order.
func fieldNames(errs ledger.FieldErrors) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestNewCampaign(t *testing.T) {
	t.Parallel()
	flat := &ledger.CommissionRule{Type: ledger.CommissionFlat, Amount: new(int64(500))}
	for name, tc := range map[string]struct {
		ch   ledger.CampaignChanges
		want []string
	}{
		"a name, a currency and a commission are enough": {
			ch: ledger.CampaignChanges{Name: new("Spring"), Currency: new("EUR"), Commission: flat}},
		"missing fields are only required, not also invalid": {
			ch: ledger.CampaignChanges{HoldDays: new(400)}, want: []string{"name", "currency", "commission", "hold_days"}},
		"a name with NUL is not text": {
			ch:   ledger.CampaignChanges{Name: new("a\x00b"), Currency: new("EUR"), Commission: flat},
			want: []string{"name"}},
		"a percentage with an amount": {
			ch: ledger.CampaignChanges{Name: new("a"), Currency: new("EUR"),
				Commission: &ledger.CommissionRule{Type: ledger.CommissionPercentage, PercentBps: new(100), Amount: new(int64(1))}},
			want: []string{"commission.amount"}},
		"recurring needs months, lifetime takes none": {
			ch: ledger.CampaignChanges{Name: new("a"), Currency: new("EUR"), Commission: flat,
				Recurrence: &ledger.Recurrence{Type: ledger.RecurrenceRecurring}},
			want: []string{"recurrence.months"}},
		"an unknown attribution model": {
			ch: ledger.CampaignChanges{Name: new("a"), Currency: new("EUR"), Commission: flat,
				Attribution: &ledger.AttributionChanges{Model: new(ledger.AttributionModel("any_click"))}},
			want: []string{"attribution.model"}},
	} {
		c, errs := ledger.NewCampaign(tc.ch)
		require.Equal(t, tc.want, fieldNames(errs), name)
		if tc.want == nil {
			require.Equal(t, ledger.RecurrenceOneTime, c.Recurrence.Type, name)
			require.Equal(t, ledger.Attribution{WindowDays: 60, Model: ledger.LastClick}, c.Attribution, name)
			require.Equal(t, 30, c.HoldDays, name)
		}
	}
}

func TestCampaignVerbs(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	create := func(t *testing.T, o ledgertest.Org) ledger.Campaign {
		c, errs := ledger.NewCampaign(ledger.CampaignChanges{Name: new("Spring"), Currency: new("EUR"),
			Commission: &ledger.CommissionRule{Type: ledger.CommissionPercentage, PercentBps: new(1500)}})
		require.Empty(t, errs)
		var created ledger.Campaign
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) (err error) {
			created, err = ledger.CreateCampaign(ctx, tx, o.ID, system, c)
			return err
		})
		require.Equal(t, 1, o.Audits(t, "campaign.created", created.ID))
		return created
	}
	update := func(o ledgertest.Org, id uuid.UUID, ch ledger.CampaignChanges) (c ledger.Campaign, err error) {
		return c, tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
			c, err = ledger.UpdateCampaign(ctx, tx, o.ID, system, id, ch)
			return err
		})
	}

	t.Run("UpdatesAndAuditsOnlyAChange", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		c := create(t, o)
		same, err := update(o, c.ID, ledger.CampaignChanges{Name: new("Spring"), Attribution: &ledger.AttributionChanges{WindowDays: new(60)}})
		require.NoError(t, err)
		require.Equal(t, c.UpdatedAt, same.UpdatedAt)
		require.Zero(t, o.Audits(t, "campaign.updated"), "changes that change nothing are not audited")
		updated, err := update(o, c.ID, ledger.CampaignChanges{Attribution: &ledger.AttributionChanges{Model: new(ledger.FirstClick)}})
		require.NoError(t, err)
		require.Equal(t, ledger.Attribution{WindowDays: 60, Model: ledger.FirstClick}, updated.Attribution)
		require.Equal(t, 1, o.Audits(t, "campaign.updated", c.ID))
	})

	t.Run("RefusesAnInvalidResult", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		c := create(t, o)
		_, err := update(o, c.ID, ledger.CampaignChanges{Commission: &ledger.CommissionRule{Type: ledger.CommissionFlat}})
		var errs ledger.FieldErrors
		require.ErrorAs(t, err, &errs)
		require.Equal(t, []string{"commission.amount"}, fieldNames(errs))
	})

	t.Run("ArchivesOnceAndThenRefusesLinks", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		c := create(t, o)
		for range 2 {
			o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
				archived, err := ledger.ArchiveCampaign(ctx, tx, o.ID, system, c.ID)
				require.NotNil(t, archived.ArchivedAt)
				return err
			})
		}
		require.Equal(t, 1, o.Audits(t, "campaign.archived", c.ID))
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			var errs ledger.FieldErrors
			require.ErrorAs(t, ledger.RequireUsableCampaign(ctx, tx, o.ID, c.ID), &errs)
			require.Equal(t, "names an archived campaign", errs[0].Detail)
			live, err := ledger.ListCampaigns(ctx, tx, o.ID, ledger.Page{Limit: 10}, false)
			require.Empty(t, live.Data)
			return err
		})
	})
}
