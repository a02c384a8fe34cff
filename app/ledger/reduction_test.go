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
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

// soldFor is a sale of amount EUR through a new partner of o, at a 10%
// campaign, and its commission.
func soldFor(t *testing.T, o ledgertest.Org, amount int64) (order string, commission uuid.UUID) {
	t.Helper()
	tr := sale(o.Partner(t, ""), amount, time.Now().Add(-time.Hour))
	tracked, _ := track(t, o, tr)
	require.NotNil(t, tracked.Commission)
	return *tr.ExternalID, tracked.Commission.ID
}

// reduce records r against order's sale in o.
func reduce(t *testing.T, o ledgertest.Org, order string, r ledger.Reduction) (ledger.Reduced, error) {
	t.Helper()
	var got ledger.Reduced
	var err error
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		got, err = ledger.ReduceSale(ctx, tx, o.ID, system, order, r)
		return nil
	})
	return got, err
}

func refundOf(source string, amount int64) ledger.Reduction {
	return ledger.Reduction{Kind: ledger.Refund, Source: source, Amount: amount, Currency: "EUR", State: ledger.ReductionRefunded}
}

func disputeOf(source string, amount int64, state string) ledger.Reduction {
	return ledger.Reduction{Kind: ledger.Dispute, Source: source, Amount: amount, Currency: "EUR", State: state}
}

// commissionNow is a commission's amount, status and what its adjustments
// add up to.
type commissionNow struct {
	amount   int64
	status   string
	adjusted int64
}

func (o commissionNow) pays() int64 {
	if o.status == "reversed" {
		return o.adjusted
	}
	return o.amount + o.adjusted
}

func stateOf(t *testing.T, o ledgertest.Org, id uuid.UUID) commissionNow {
	t.Helper()
	var c commissionNow
	o.Exec(t, []any{&c.amount, &c.status, &c.adjusted}, `SELECT amount, status,
		(SELECT coalesce(sum(a.amount), 0)::bigint FROM commission_adjustments a WHERE a.commission_id = c.id)
		FROM commissions c WHERE id = $1`, id)
	return c
}

// reversal is who reversed a commission and why.
type reversal struct{ reason, by string }

func reversalOf(t *testing.T, o ledgertest.Org, id uuid.UUID) reversal {
	t.Helper()
	var r reversal
	o.Exec(t, []any{&r.reason, &r.by}, `SELECT reversed_reason, reversed_by FROM commissions WHERE id = $1`, id)
	return r
}

// reverse reverses commission id through the API's verb.
func reverse(t *testing.T, o ledgertest.Org, id uuid.UUID, reason string) {
	t.Helper()
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		_, err := ledger.ReverseCommission(ctx, tx, o.ID, system, id, ledger.Reversal{Reason: reason})
		return err
	})
}

// refundSoFar is a running total of refunds under source, as Stripe's
// amount_refunded is.
func refundSoFar(source string, amount int64) ledger.Reduction {
	r := refundOf(source, amount)
	r.SoFar = true
	return r
}

func TestReduceSale(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	must := func(t *testing.T, o ledgertest.Org, order string, r ledger.Reduction) {
		t.Helper()
		got, err := reduce(t, o, order, r)
		require.NoError(t, err)
		require.True(t, got.Found)
	}

	t.Run("PartialRefundsAddUpToTheCent", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000) // earns 1000
		for i, step := range []struct {
			amount int64
			pays   int64
		}{{3333, 667}, {3333, 333}, {3334, 0}} {
			must(t, o, order, refundOf(fmt.Sprintf("refund-%d", i), step.amount))
			require.Equal(t, step.pays, stateOf(t, o, id).pays(), "after refund %d", i)
		}
		require.Equal(t, commissionNow{333, "reversed", 0}, stateOf(t, o, id), "reversed at nothing left, keeping its last amount")
		require.Equal(t, 2, o.Audits(t, "commission.reduced", id))
		require.Equal(t, 1, o.Audits(t, "commission.reversed", id))
		require.Equal(t, 3, o.Audits(t, "conversion.reduced"))

		must(t, o, order, refundOf("refund-beyond", 500))
		require.Equal(t, int64(0), stateOf(t, o, id).pays(), "refunds past the sale's amount take nothing more")
		require.Equal(t, 1, o.Audits(t, "commission.reversed", id))
	})

	t.Run("AReportTwiceChangesNothing", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		for range 3 {
			must(t, o, order, refundOf("refund-1", 2500))
		}
		require.Equal(t, commissionNow{750, "pending", 0}, stateOf(t, o, id))
		require.Equal(t, 1, o.Audits(t, "conversion.reduced"))
		require.Equal(t, 1, o.Audits(t, "commission.reduced", id))
	})

	t.Run("ARunningTotalOnlyGrows", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		for _, so := range []int64{1000, 3000, 2000} { // the last is an older report arriving late
			r := refundOf("stripe:charge:ch_1", so)
			r.SoFar = true
			must(t, o, order, r)
		}
		require.Equal(t, int64(700), stateOf(t, o, id).pays())
	})

	t.Run("APaidCommissionIsClawedBackByTheShareOnly", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		o.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now() WHERE id = $1`, id)
		must(t, o, order, refundOf("refund-1", 2500))
		require.Equal(t, commissionNow{1000, "paid", -250}, stateOf(t, o, id))
		must(t, o, order, refundOf("refund-1", 2500))
		must(t, o, order, refundOf("refund-2", 7500))
		require.Equal(t, commissionNow{1000, "paid", -1000}, stateOf(t, o, id))
		require.Equal(t, 2, o.Count(t, `SELECT count(*) FROM commission_adjustments WHERE commission_id = $1 AND reason = 'refunded'`, id))
		require.Equal(t, 2, o.Audits(t, "commission.clawed_back", id))
	})

	t.Run("ACommissionInAPayoutIsAdjustedNotChanged", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p := o.Partner(t, "hold_days = 0")
		tr := sale(p, 10000, time.Now().Add(-time.Hour))
		tracked, _ := track(t, o, tr)
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			_, err := ledger.CreatePayout(ctx, tx, o.ID, system, ledger.NewPayout{AffiliateID: p.Affiliate, Currency: "EUR", Provider: ledger.ProviderManual})
			return err
		})
		must(t, o, *tr.ExternalID, refundOf("refund-1", 5000))
		require.Equal(t, commissionNow{1000, "approved", -500}, stateOf(t, o, tracked.Commission.ID))
	})

	t.Run("ADisputeWonGivesBackWhatItTook", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		must(t, o, order, refundOf("refund-1", 1000))
		must(t, o, order, disputeOf("dp_1", 9000, ledger.DisputeOpen))
		require.Equal(t, commissionNow{900, "reversed", 0}, stateOf(t, o, id))
		must(t, o, order, disputeOf("dp_1", 9000, ledger.DisputeWon))
		require.Equal(t, commissionNow{900, "pending", 0}, stateOf(t, o, id), "restored to what the refund left")
		require.Equal(t, 1, o.Audits(t, "commission.restored", id))
		var reason *string
		o.Exec(t, []any{&reason}, `SELECT reversed_reason FROM commissions WHERE id = $1`, id)
		require.Nil(t, reason)
	})

	t.Run("ADisputeWonOnAPaidCommissionIsPaidBack", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		o.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now() WHERE id = $1`, id)
		must(t, o, order, disputeOf("dp_1", 10000, ledger.DisputeOpen))
		require.Equal(t, commissionNow{1000, "paid", -1000}, stateOf(t, o, id))
		must(t, o, order, disputeOf("dp_1", 10000, ledger.DisputeWon))
		require.Equal(t, commissionNow{1000, "paid", 0}, stateOf(t, o, id))
		require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM commission_adjustments WHERE commission_id = $1 AND amount = 1000 AND reason = 'dispute_won'`, id))
	})

	t.Run("ADisputeLostKeepsWhatItTookAndALateOpenChangesNothing", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		must(t, o, order, disputeOf("dp_won_first", 4000, ledger.DisputeWon))
		must(t, o, order, disputeOf("dp_won_first", 4000, ledger.DisputeOpen))
		require.Equal(t, int64(1000), stateOf(t, o, id).pays(), "a dispute reported won first takes nothing when its opening arrives")
		must(t, o, order, disputeOf("dp_lost", 5000, ledger.DisputeLost))
		must(t, o, order, disputeOf("dp_lost", 5000, ledger.DisputeOpen))
		require.Equal(t, int64(500), stateOf(t, o, id).pays())
	})

	// The API's reversal is the merchant's decision, whatever its free-text
	// reason says ("refunded" and "disputed" are the reasons a provider's
	// reversal records too): no later refund total or dispute won undoes it.
	for _, reason := range []string{"fraud", "refunded", "disputed"} {
		t.Run("ACommissionReversedThroughTheAPIIsLeftAlone/"+reason, func(t *testing.T) {
			t.Parallel()
			o := region.Org(t, "")
			order, id := soldFor(t, o, 10000)
			reverse(t, o, id, reason)
			must(t, o, order, refundOf("refund-1", 100))
			must(t, o, order, disputeOf("dp_1", 9900, ledger.DisputeOpen))
			must(t, o, order, disputeOf("dp_1", 9900, ledger.DisputeWon))
			require.Equal(t, commissionNow{1000, "reversed", 0}, stateOf(t, o, id), "a smaller refund or a dispute won does not undo it")
			require.Equal(t, reversal{reason, ledger.ReversedByAPI}, reversalOf(t, o, id))
			require.Zero(t, o.Audits(t, "commission.restored"))
			require.Zero(t, o.Audits(t, "commission.reduced"))
		})
	}

	// The previous release, serving during a rollout, writes no
	// reversed_by: its reversal is read by its reason, as it read it.
	t.Run("AReversalThePreviousReleaseWroteIsReadByItsReason", func(t *testing.T) {
		t.Parallel()
		for reason, want := range map[string]commissionNow{"fraud": {1000, "reversed", 0}, "disputed": {1000, "pending", 0}} {
			o := region.Org(t, "")
			order, id := soldFor(t, o, 10000)
			o.Exec(t, nil, `UPDATE commissions SET status = 'reversed', reversed_reason = $2, reversed_at = now() WHERE id = $1`, id, reason)
			must(t, o, order, disputeOf("dp_1", 10000, ledger.DisputeWon))
			require.Equal(t, want, stateOf(t, o, id), reason)
		}
	})

	t.Run("TheAPIReversingWhatADisputeReversedKeepsItReversed", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		must(t, o, order, disputeOf("dp_1", 10000, ledger.DisputeOpen))
		require.Equal(t, reversal{"disputed", ledger.ReversedByProvider}, reversalOf(t, o, id))
		reverse(t, o, id, "fraud")
		require.Equal(t, reversal{"fraud", ledger.ReversedByAPI}, reversalOf(t, o, id))
		reverse(t, o, id, "fraud again")
		require.Equal(t, reversal{"fraud", ledger.ReversedByAPI}, reversalOf(t, o, id), "the API's reversal twice is one")
		require.Equal(t, 2, o.Audits(t, "commission.reversed", id), "the dispute's, then the API's")
		must(t, o, order, disputeOf("dp_1", 10000, ledger.DisputeWon))
		require.Equal(t, commissionNow{1000, "reversed", 0}, stateOf(t, o, id), "a dispute won does not undo the API's reversal")
	})

	// Migration 0020 recorded a sale taken back whole before reductions
	// were proportional as a reduction of the whole sale; the first report
	// after it of the same kind says what the sale really lost.
	t.Run("TheFirstReportAfterTheUpgradeReplacesTheBackfill", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			kind, status, reason string
			report               ledger.Reduction
			want                 commissionNow
		}{
			{"dispute", "open", "disputed", disputeOf("dp_1", 10000, ledger.DisputeWon), commissionNow{1000, "pending", 0}},
			{"refund", "refunded", "refunded", refundSoFar("stripe:charge:ch_1", 2500), commissionNow{750, "pending", 0}},
		} {
			t.Run(tc.kind, func(t *testing.T) {
				t.Parallel()
				o := region.Org(t, "")
				order, id := soldFor(t, o, 10000)
				o.Exec(t, nil, `INSERT INTO sale_reductions (org_id, conversion_id, kind, source, amount, currency, status)
					SELECT org_id, conversion_id, $2, 'before-proportional-reductions', 10000, currency, $3 FROM commissions WHERE id = $1`,
					id, tc.kind, tc.status)
				o.Exec(t, nil, `UPDATE commissions SET status = 'reversed', reversed_reason = $2, reversed_by = 'provider', reversed_at = now()
					WHERE id = $1`, id, tc.reason)
				must(t, o, order, tc.report)
				require.Equal(t, tc.want, stateOf(t, o, id))
				require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM sale_reductions`), "the report took the backfill's place")
				require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'conversion.reduced'
					AND metadata->>'replaces' = 'before-proportional-reductions'`))
				other := disputeOf("dp_other", 1000, ledger.DisputeOpen)
				if tc.kind == "dispute" {
					other = refundOf("refund-other", 1000)
				}
				must(t, o, order, other)
				require.Equal(t, 2, o.Count(t, `SELECT count(*) FROM sale_reductions`), "a report of another kind is its own")
			})
		}
		// A refund reported by its own id may be one beside those the
		// backfill holds: it adds to them and gives nothing back.
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		o.Exec(t, nil, `INSERT INTO sale_reductions (org_id, conversion_id, kind, source, amount, currency, status)
			SELECT org_id, conversion_id, 'refund', 'before-proportional-reductions', 10000, currency, 'refunded' FROM commissions WHERE id = $1`, id)
		o.Exec(t, nil, `UPDATE commissions SET status = 'reversed', reversed_reason = 'refunded', reversed_by = 'provider', reversed_at = now()
			WHERE id = $1`, id)
		must(t, o, order, refundOf("shopify:refund:2", 2500))
		require.Equal(t, commissionNow{1000, "reversed", 0}, stateOf(t, o, id))
		require.Equal(t, 2, o.Count(t, `SELECT count(*) FROM sale_reductions`))
	})

	t.Run("RefusesWhatCannotBeOfTheSale", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		order, id := soldFor(t, o, 10000)
		r := refundOf("refund-usd", 100)
		r.Currency = "USD"
		_, err := reduce(t, o, order, r)
		require.ErrorIs(t, err, ledger.ErrReductionMismatch)
		for name, bad := range map[string]ledger.Reduction{
			"a refund that is open": {Kind: ledger.Refund, Source: "r", Amount: 1, Currency: "EUR", State: ledger.DisputeOpen},
			"no amount":             refundOf("r", 0),
			"no source":             refundOf("", 10),
			"an unknown kind":       {Kind: "chargeback", Source: "r", Amount: 1, Currency: "EUR", State: ledger.DisputeOpen},
		} {
			_, err := reduce(t, o, order, bad)
			var fields ledger.FieldErrors
			require.True(t, errors.As(err, &fields), "%s: %v", name, err)
		}
		require.Equal(t, int64(1000), stateOf(t, o, id).pays())
		require.Zero(t, o.Count(t, `SELECT count(*) FROM sale_reductions`))
	})

	t.Run("AnUnknownSaleIsNotFound", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		got, err := reduce(t, o, "order-not-yet", refundOf("refund-1", 100))
		require.NoError(t, err)
		require.False(t, got.Found)
	})

	// Any order of the same reports ends in the same state, and what is
	// taken back never exceeds what the commission earned.
	t.Run("EveryOrderEndsTheSame", func(t *testing.T) {
		t.Parallel()
		reports := []ledger.Reduction{refundOf("r1", 1111), refundOf("r2", 2222), disputeOf("d1", 5000, ledger.DisputeOpen),
			disputeOf("d1", 5000, ledger.DisputeWon), refundOf("r3", 3333)}
		orders := [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {3, 2, 0, 4, 1}, {2, 4, 1, 3, 0}}
		for _, paid := range []bool{false, true} {
			for _, order := range orders {
				o := region.Org(t, "")
				sold, id := soldFor(t, o, 9999) // earns 1000 (999.9 rounded)
				if paid {
					o.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now() WHERE id = $1`, id)
				}
				for _, i := range order {
					must(t, o, sold, reports[i])
					now := stateOf(t, o, id)
					require.GreaterOrEqual(t, now.pays(), int64(0))
					require.LessOrEqual(t, now.pays(), int64(1000))
				}
				// lost = 1111 + 2222 + 3333 = 6666 of 9999: 666.67 → 667 taken.
				require.Equal(t, int64(333), stateOf(t, o, id).pays(), "paid %v, order %v", paid, order)
			}
		}
	})
}
