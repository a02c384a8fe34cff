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

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

func TestLinkVerbs(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	// A new link's entry seals its destination, which only a Sealer stores.
	rec := sealing(t)
	createLink := func(o ledgertest.Org, in ledger.NewLink) (l ledger.Link, err error) {
		return l, tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
			l, err = ledger.CreateLink(ctx, tx, o.ID, rec, in)
			return err
		})
	}
	newLink := func(p ledgertest.Partner) ledger.NewLink {
		return ledger.NewLink{AffiliateID: p.Affiliate, CampaignID: p.Campaign, DestinationURL: "https://shop.example/a"}
	}

	t.Run("GeneratesACodeAndReservesIt", func(t *testing.T) {
		t.Parallel()
		o, other := region.Org(t, ""), region.Org(t, "")
		l, err := createLink(o, newLink(o.Partner(t, "")))
		require.NoError(t, err)
		require.True(t, ledger.ValidReferralCode(l.Code))
		require.Empty(t, l.URL, "the ledger leaves the public URL to whoever serves the link")
		require.Equal(t, 1, o.Audits(t, "link.created", l.ID))

		in := newLink(other.Partner(t, ""))
		in.Code = l.Code
		_, err = createLink(other, in)
		require.ErrorIs(t, err, ledger.ErrLinkCodeTaken, "a code is taken across organizations")
	})

	t.Run("RefusesASuspendedAffiliateOrAnArchivedCampaign", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p := o.Partner(t, "archived_at = now()")
		for name, in := range map[string]ledger.NewLink{
			"affiliate_id": {AffiliateID: o.Affiliate(t, "s@partners.example", "suspended"), CampaignID: o.Campaign(t, ""),
				DestinationURL: "https://shop.example/"},
			"campaign_id": newLink(p),
		} {
			_, err := createLink(o, in)
			var errs ledger.FieldErrors
			require.ErrorAs(t, err, &errs, name)
			require.Equal(t, []string{name}, fieldNames(errs))
		}
	})

	t.Run("UpdatesAndDisablesOnce", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p := o.Partner(t, "")
		change := func(fn func(ctx context.Context, tx pgx.Tx) (ledger.Link, error)) ledger.Link {
			var l ledger.Link
			o.Tx(t, func(ctx context.Context, tx pgx.Tx) (err error) {
				l, err = fn(ctx, tx)
				return err
			})
			return l
		}
		for _, dest := range []string{"https://shop.example/", "https://shop.example/b", "https://shop.example/b"} {
			l := change(func(ctx context.Context, tx pgx.Tx) (ledger.Link, error) {
				return ledger.UpdateLink(ctx, tx, o.ID, system, p.Link, ledger.LinkChanges{DestinationURL: &dest})
			})
			require.Equal(t, dest, l.DestinationURL)
		}
		require.Equal(t, 1, o.Audits(t, "link.updated", p.Link), "only the one change is audited")
		for range 2 {
			l := change(func(ctx context.Context, tx pgx.Tx) (ledger.Link, error) {
				return ledger.DisableLink(ctx, tx, o.ID, system, p.Link)
			})
			require.NotNil(t, l.DisabledAt)
		}
		require.Equal(t, 1, o.Audits(t, "link.disabled", p.Link))
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			_, err := ledger.UpdateLink(ctx, tx, o.ID, system, uuid.New(), ledger.LinkChanges{})
			require.ErrorIs(t, err, db.ErrNotFound)
			return nil
		})
	})
}
