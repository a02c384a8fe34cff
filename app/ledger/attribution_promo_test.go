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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

// TestPromoCodeAttribution: a sale that carries a promo code is
// attributed to the code's affiliate and earns in the code's campaign
// when no click or link attributes it, the customer records that the code
// won, and codes never cross organizations.
func TestPromoCodeAttribution(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	bySale := func(amount int64, codes ...string) ledger.Tracking {
		order, eur := "order-"+uuid.NewString(), "EUR"
		return ledger.Tracking{Kind: ledger.Sale, CustomerExternalID: "cus_" + uuid.NewString(), ExternalID: &order,
			OccurredAt: time.Now().Add(-time.Minute).UTC(), Amount: amount, Currency: &eur, PromoCodes: codes}
	}

	t.Run("ACodeAttributesWhenNothingElseDoes", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p := o.Partner(t, "commission_bps = 2000")
		code := o.PromoCode(t, p.Affiliate, p.Campaign, "SPRING")
		tracked, _ := track(t, o, bySale(10000, "unknown-code", "spring"))
		require.Equal(t, p.Affiliate, *tracked.Customer.AffiliateID)
		require.Equal(t, code, *tracked.Customer.PromoCodeID)
		require.Nil(t, tracked.Customer.LinkID)
		require.Equal(t, "promo_code", *tracked.Customer.AttributedBy)
		require.NotNil(t, tracked.Commission)
		require.Equal(t, p.Campaign, tracked.Commission.CampaignID, "earned in the code's campaign")
		require.Equal(t, int64(2000), tracked.Commission.Amount)
		require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'conversion.sale_tracked'
			AND metadata->>'attributed_by' = 'promo_code' AND metadata->>'promo_code_id' = $1`, code.String()))
	})

	t.Run("AClickOrALinkWinsOverACode", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		byLink, byCode := o.Partner(t, ""), o.Partner(t, "")
		o.PromoCode(t, byCode.Affiliate, byCode.Campaign, "SPRING")
		s := bySale(10000, "SPRING")
		s.ReferralCode = &byLink.Code
		tracked, _ := track(t, o, s)
		require.Equal(t, byLink.Affiliate, *tracked.Customer.AffiliateID)
		require.Equal(t, "link_code", *tracked.Customer.AttributedBy)
		require.Nil(t, tracked.Customer.PromoCodeID)

		visitor := uuid.New()
		o.Click(t, byLink.Link, visitor, time.Now().Add(-time.Hour), false)
		s = bySale(10000, "SPRING")
		s.VisitorID = &visitor
		tracked, _ = track(t, o, s)
		require.Equal(t, "click", *tracked.Customer.AttributedBy)
		require.Equal(t, byLink.Affiliate, *tracked.Customer.AffiliateID)
	})

	t.Run("AnAttributedCustomerKeepsItsReferral", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		first, second := o.Partner(t, "recurrence = 'lifetime'"), o.Partner(t, "")
		o.PromoCode(t, second.Affiliate, second.Campaign, "LATER")
		s := bySale(10000)
		s.ReferralCode = &first.Code
		track(t, o, s)
		again := bySale(5000, "LATER")
		again.CustomerExternalID = s.CustomerExternalID
		tracked, _ := track(t, o, again)
		require.Equal(t, first.Affiliate, *tracked.Customer.AffiliateID, "the first attribution wins")
		require.Equal(t, first.Campaign, tracked.Commission.CampaignID)
	})

	// A code moved to another affiliate and campaign brings its new
	// customers there; those it brought before keep their affiliate and
	// the campaign they came in by, whose recurrence they have used up.
	t.Run("MovingACodeLeavesItsCustomersWhereTheyCameIn", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		before, after := o.Partner(t, "commission_bps = 2000"), o.Partner(t, "commission_bps = 3000")
		code := o.PromoCode(t, before.Affiliate, before.Campaign, "SPRING")
		first := bySale(10000, "SPRING")
		first.OccurredAt = time.Now().Add(-time.Hour)
		tracked, _ := track(t, o, first)
		require.Equal(t, int64(2000), tracked.Commission.Amount)
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			_, err := ledger.UpdatePromoCode(ctx, tx, o.ID, system, code,
				ledger.PromoCodeChanges{AffiliateID: &after.Affiliate, CampaignID: &after.Campaign})
			return err
		})
		again := bySale(10000, "SPRING")
		again.CustomerExternalID = first.CustomerExternalID
		tracked, _ = track(t, o, again)
		require.Equal(t, before.Affiliate, *tracked.Customer.AffiliateID)
		require.Nil(t, tracked.Commission, "the one-time campaign it came in by paid once; the code's new campaign does not pay again")
		tracked, _ = track(t, o, bySale(10000, "SPRING"))
		require.Equal(t, after.Affiliate, *tracked.Customer.AffiliateID, "a new customer comes in by the code as it is now")
		require.Equal(t, after.Campaign, tracked.Commission.CampaignID)
		require.Equal(t, int64(3000), tracked.Commission.Amount)
	})

	t.Run("ADisabledCodeOrAnotherOrganizationsCodeAttributesNothing", func(t *testing.T) {
		t.Parallel()
		o, other := region.Org(t, ""), region.Org(t, "")
		p := o.Partner(t, "")
		q := other.Partner(t, "")
		other.PromoCode(t, q.Affiliate, q.Campaign, "THEIRS")
		disabled := o.PromoCode(t, p.Affiliate, p.Campaign, "OLD")
		o.Exec(t, nil, `UPDATE promo_codes SET disabled_at = now() WHERE id = $1`, disabled)
		tracked, _ := track(t, o, bySale(10000, "THEIRS", "OLD"))
		require.Nil(t, tracked.Customer.AffiliateID)
		require.Nil(t, tracked.Customer.AttributedBy)
		require.Nil(t, tracked.Commission)
	})
}
