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

func TestAffiliateVerbs(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	// An invite's entry seals the email, which only a Sealer stores.
	rec := sealing(t)
	// in runs verb in o's tenant transaction, which an error rolls back.
	in := func(o ledgertest.Org, verb func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error)) (ledger.Affiliate, error) {
		var a ledger.Affiliate
		return a, tenantTx(o, func(ctx context.Context, tx pgx.Tx) (err error) {
			a, err = verb(ctx, tx)
			return err
		})
	}
	invite := func(o ledgertest.Org, email string, campaign *uuid.UUID) (ledger.Affiliate, error) {
		return in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
			return ledger.InviteAffiliate(ctx, tx, o.ID, rec, ledger.NewAffiliate{Email: email, CampaignID: campaign})
		})
	}

	t.Run("WalksTheLifecycle", func(t *testing.T) {
		o := region.Org(t, "")
		campaign := o.Campaign(t, "")
		a, err := invite(o, "ada@example.com", &campaign)
		require.NoError(t, err)
		require.Equal(t, ledger.AffiliateInvited, a.Status)
		require.Equal(t, campaign, *a.Invite.CampaignID)
		_, err = in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
			return ledger.ApproveAffiliate(ctx, tx, o.ID, rec, a.ID)
		})
		var refusal *ledger.Refusal
		require.ErrorAs(t, err, &refusal, "an invited affiliate must accept first")
		require.Equal(t, ledger.Conflict, refusal.Kind)

		name := "Ada"
		accepted, err := in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
			return ledger.AcceptInvite(ctx, tx, o.ID, rec, a.Invite.Token, &name)
		})
		require.NoError(t, err)
		require.Equal(t, ledger.AffiliatePending, accepted.Status)
		require.Equal(t, "Ada", *accepted.Name)
		_, err = in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
			return ledger.AcceptInvite(ctx, tx, o.ID, rec, a.Invite.Token, nil)
		})
		require.ErrorIs(t, err, db.ErrNotFound, "a used token")

		for range 2 {
			approved, err := in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
				return ledger.ApproveAffiliate(ctx, tx, o.ID, rec, a.ID)
			})
			require.NoError(t, err)
			require.Equal(t, ledger.AffiliateActive, approved.Status)
			require.NotNil(t, approved.ApprovedAt)
		}
		require.Equal(t, 1, o.Audits(t, "affiliate.approved", a.ID), "approving an active affiliate audits nothing")
		suspended, err := in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
			return ledger.SuspendAffiliate(ctx, tx, o.ID, rec, a.ID, "Cookie stuffing")
		})
		require.NoError(t, err)
		require.Equal(t, ledger.AffiliateSuspended, suspended.Status)
		_, err = in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
			return ledger.ReinviteAffiliate(ctx, tx, o.ID, rec, a.ID)
		})
		require.ErrorIs(t, err, ledger.ErrInviteAccepted)

		var list ledger.List[ledger.Affiliate]
		status := ledger.AffiliateSuspended
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			list, err = ledger.ListAffiliates(ctx, tx, o.ID, ledger.Page{Limit: 10}, ledger.AffiliateFilter{Status: &status})
			return err
		})
		require.Len(t, list.Data, 1)
		require.Equal(t, suspended, list.Data[0])
		for _, action := range []string{"affiliate.invited", "affiliate.accepted", "affiliate.suspended"} {
			require.Equal(t, 1, o.Audits(t, action, a.ID), action)
		}
	})

	t.Run("UpdatesOnlyWhatChanges", func(t *testing.T) {
		o := region.Org(t, "")
		a, err := invite(o, "update@example.com", nil)
		require.NoError(t, err)
		account := "acct_1A2b3C"
		update := func(u ledger.AffiliateUpdate) ledger.Affiliate {
			t.Helper()
			updated, err := in(o, func(ctx context.Context, tx pgx.Tx) (ledger.Affiliate, error) {
				return ledger.UpdateAffiliate(ctx, tx, o.ID, rec, a.ID, u)
			})
			require.NoError(t, err)
			return updated
		}
		updated := update(ledger.AffiliateUpdate{StripeAccountID: ledger.AffiliateField{Set: true, Value: &account}})
		require.Equal(t, account, *updated.StripeAccountID)
		require.Nil(t, updated.Name, "a field not set is kept")
		update(ledger.AffiliateUpdate{StripeAccountID: ledger.AffiliateField{Set: true, Value: &account}})
		require.Equal(t, 1, o.Audits(t, "affiliate.updated", a.ID), "an update that changes nothing audits nothing")
		require.Nil(t, update(ledger.AffiliateUpdate{StripeAccountID: ledger.AffiliateField{Set: true}}).StripeAccountID, "nil clears")
		require.Equal(t, 2, o.Audits(t, "affiliate.updated", a.ID))
	})

	t.Run("RefusesADuplicateEmailAndAnUnusableCampaign", func(t *testing.T) {
		o := region.Org(t, "")
		_, err := invite(o, "twice@example.com", nil)
		require.NoError(t, err)
		_, err = invite(o, "twice@example.com", nil)
		require.ErrorIs(t, err, ledger.ErrAffiliateEmailTaken)
		archived := o.Campaign(t, "archived_at = now()")
		for _, campaign := range []uuid.UUID{archived, region.Org(t, "").Campaign(t, ""), uuid.New()} {
			_, err = invite(o, "campaign@example.com", &campaign)
			var fields ledger.FieldErrors
			require.ErrorAs(t, err, &fields)
			require.Equal(t, "campaign_id", fields[0].Field)
		}
		require.Zero(t, o.Count(t, `SELECT count(*) FROM affiliates WHERE email = 'campaign@example.com'`))
	})
}
