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

package billing

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Paddle's ids in the fixtures.
const (
	paddleTxn      = "txn_01hv8wxybp2kbwpa6rkjxz4vcv"
	paddleCustomer = "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
	paddleSale     = "paddle:" + paddleTxn
)

// paddleAdjustment is the changes making adjustment.created an adjustment
// of action and status for total of the fixture's transaction.
func paddleAdjustment(id, action, status, total string) set {
	return set{"data.id": id, "data.action": action, "data.status": status, "data.totals.total": total}
}

func TestPaddleEffects(t *testing.T) {
	t.Parallel()
	b := setupEffects(t)
	reason := func(s string) *string { return &s }

	t.Run("ASubscriptionAttributesAndEachTransactionIsASale", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "recurrence = 'lifetime'")
		tn.mustDeliver(t, "paddle", "subscription.created", "evt_sub", set{"data.custom_data": map[string]any{"rekomi_ref": p.Code}})
		require.Equal(t, p.Affiliate, *tn.customer(t, "paddle:"+paddleCustomer).affiliate)
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn", nil)
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, paddleSale), "10% of the grand total")
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn_renewal", set{"data.id": "txn_renewal",
			"data.origin": "subscription_recurring", "data.details.totals.grand_total": "2900"})
		require.Equal(t, []commissionRow{{290, "EUR", "pending", nil}}, tn.commissions(t, "paddle:txn_renewal"), "a renewal earns too")
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn_again", nil)
		require.Len(t, tn.commissions(t, paddleSale), 1, "one sale per transaction")
	})

	t.Run("ATransactionsOwnCustomDataAttributes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn", set{"data.custom_data": map[string]any{"referral": p.Code}})
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, paddleSale))
	})

	t.Run("ADiscountsCodeAttributesWhenNothingElseDoes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "commission_bps = 2000")
		tn.PromoCode(t, p.Affiliate, p.Campaign, "spring")
		tn.mustDeliver(t, "paddle", "discount.created", "evt_discount", nil)
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn", set{"data.discount_id": "dsc_01hv8wqf0ye3s7bm1ecg3gk8dz"})
		require.Equal(t, []commissionRow{{980, "EUR", "pending", nil}}, tn.commissions(t, paddleSale))
		require.Equal(t, 1, tn.Count(t, `SELECT count(*) FROM customers WHERE promo_code_id IS NOT NULL`))
	})

	t.Run("RefundsAreTakenBackByTheirShareOnceApproved", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn", set{"data.custom_data": map[string]any{"rekomi_ref": p.Code}})
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_adj_pending", paddleAdjustment("adj_1", "refund", "pending_approval", "980"))
		require.Equal(t, []commissionRow{{490, "EUR", "pending", nil}}, tn.commissions(t, paddleSale), "not approved yet")
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_adj_approved", merge(paddleAdjustment("adj_1", "refund", "approved", "980"),
			set{"event_type": "adjustment.updated"}))
		require.Equal(t, []commissionRow{{392, "EUR", "pending", nil}}, tn.commissions(t, paddleSale), "a fifth refunded")
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_adj_2", paddleAdjustment("adj_2", "refund", "approved", "3920"))
		require.Equal(t, []commissionRow{{392, "EUR", "reversed", reason("refunded")}}, tn.commissions(t, paddleSale),
			"reversed when all is refunded, keeping its last amount")
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_adj_credit", paddleAdjustment("adj_3", "credit", "approved", "100"))
		require.Equal(t, 2, tn.Count(t, `SELECT count(*) FROM sale_reductions`), "a credit takes nothing back")
	})

	t.Run("AChargebackReversedGivesTheCommissionBack", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn", set{"data.custom_data": map[string]any{"rekomi_ref": p.Code}})
		tn.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now()`)
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_cb", paddleAdjustment("adj_cb", "chargeback", "approved", "4900"))
		require.Equal(t, -490, tn.Count(t, `SELECT sum(amount)::int FROM commission_adjustments`))
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_cb_rev", paddleAdjustment("adj_cb_rev", "chargeback_reverse", "approved", "4900"))
		require.Equal(t, 0, tn.Count(t, `SELECT sum(amount)::int FROM commission_adjustments`))
		require.Equal(t, 1, tn.audits(t, "commission.restored"))
	})

	t.Run("ARefundBeforeItsTransactionIsAppliedWhenItComes", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		p := tn.Partner(t, "")
		tn.mustDeliver(t, "paddle", "adjustment.created", "evt_adj", paddleAdjustment("adj_1", "refund", "approved", "2450"))
		tn.mustDeliver(t, "paddle", "transaction.completed", "evt_txn", set{"data.custom_data": map[string]any{"rekomi_ref": p.Code}})
		require.Equal(t, []commissionRow{{245, "EUR", "pending", nil}}, tn.commissions(t, paddleSale))
	})

	t.Run("EventsThatCanNeverApplyAreLogged", func(t *testing.T) {
		t.Parallel()
		tn := b.tenant(t)
		for name, changes := range map[string]set{
			"no customer":         {"data.customer_id": nil},
			"no total":            {"data.details.totals.grand_total": "", "data.details.totals.total": "lots"},
			"an unknown currency": {"data.currency_code": "XYZ"},
			"a negative total":    {"data.details.totals.grand_total": "-5"},
		} {
			require.NoError(t, tn.deliver(t, "paddle", "transaction.completed", "evt_"+name, changes), name)
		}
		require.Zero(t, tn.Count(t, `SELECT count(*) FROM conversions`))
		require.Equal(t, 4, tn.Count(t, `SELECT count(*) FROM billing_events`), "each stays stored")
	})
}
