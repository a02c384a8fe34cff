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
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

// Tests of the verbs against a real Region database, as the runtime role.

// system records as the system actor, without personal fields.
var system = ledger.Recorder{Entry: func(action, targetType, targetID string, metadata map[string]any) audit.Entry {
	return audit.Entry{ActorType: audit.ActorSystem, ActorID: "test", Action: action, TargetType: targetType,
		TargetID: targetID, Metadata: metadata}
}}

// tenantTx runs fn in o's tenant transaction and returns its error.
func tenantTx(o ledgertest.Org, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx := context.Background()
	return o.Region.DB.TenantTx(ctx, o.ID, func(tx pgx.Tx) error { return fn(ctx, tx) })
}

// sealing records as the system actor with a Sealer of a fresh key ring,
// for verbs whose entries seal personal fields (emails, URLs).
func sealing(t *testing.T) ledger.Recorder {
	t.Helper()
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	return ledger.Recorder{Sealer: audit.NewSealer(ring, 0), Entry: system.Entry}
}

// sale is a sale of amount EUR by a new customer through p's code, made
// at at.
func sale(p ledgertest.Partner, amount int64, at time.Time) ledger.Tracking {
	order, eur := "order-"+uuid.NewString(), "EUR"
	return ledger.Tracking{Kind: ledger.Sale, CustomerExternalID: "cus_" + uuid.NewString(), ReferralCode: &p.Code,
		ExternalID: &order, OccurredAt: at.UTC(), Amount: amount, Currency: &eur}
}

// track tracks t in o's transaction.
func track(t *testing.T, o ledgertest.Org, tr ledger.Tracking) (ledger.Tracked, bool) {
	t.Helper()
	var tracked ledger.Tracked
	var created bool
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		tracked, created, err = ledger.Track(ctx, tx, o.ID, system, tr)
		return err
	})
	return tracked, created
}

func TestTrack(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	o := region.Org(t, "")
	p := o.Partner(t, "")
	tr := sale(p, 10000, time.Now().Add(-time.Hour))

	tracked, created := track(t, o, tr)
	require.True(t, created)
	require.Equal(t, p.Affiliate, *tracked.Customer.AffiliateID, "attributed through the link code")
	require.NotNil(t, tracked.Commission)
	require.Equal(t, int64(1000), tracked.Commission.Amount, "10% of the sale")
	require.Equal(t, ledger.Pending, tracked.Commission.Status)

	again, created := track(t, o, tr)
	require.False(t, created, "the same external id records nothing")
	require.Equal(t, ledger.Tracked{}, again)
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		read, err := ledger.ReadTracked(ctx, tx, o.ID, tr)
		require.Equal(t, tracked.Conversion.ID, read.Conversion.ID)
		require.Equal(t, tracked.Commission.ID, read.Commission.ID)
		return err
	})
	require.Equal(t, 1, o.Audits(t, "conversion.sale_tracked"))
	require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM commissions`))
}

func TestReverseCommission(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	reverse := func(o ledgertest.Org, id uuid.UUID, rv ledger.Reversal) (c ledger.Commission, err error) {
		require.NoError(t, region.DB.TenantTx(context.Background(), o.ID, func(tx pgx.Tx) error {
			c, err = ledger.ReverseCommission(context.Background(), tx, o.ID, system, id, rv)
			return nil
		}))
		return c, err
	}

	t.Run("AnUnpaidCommissionOnce", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		tracked, _ := track(t, o, sale(o.Partner(t, ""), 10000, time.Now()))
		c, err := reverse(o, tracked.Commission.ID, ledger.Reversal{Reason: "fraud"})
		require.NoError(t, err)
		require.Equal(t, ledger.Reversed, c.Status)
		require.Equal(t, "fraud", *c.ReversedReason)
		again, err := reverse(o, tracked.Commission.ID, ledger.Reversal{Reason: "again"})
		require.NoError(t, err)
		require.Equal(t, "fraud", *again.ReversedReason, "a reversed commission stays as it was")
		require.Equal(t, 1, o.Audits(t, "commission.reversed", c.ID))
	})

	t.Run("APaidCommissionIsRefused", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		tracked, _ := track(t, o, sale(o.Partner(t, ""), 10000, time.Now()))
		id := tracked.Commission.ID
		o.Exec(t, nil, `UPDATE commissions SET status = 'paid', paid_at = now() WHERE id = $1`, id)

		_, err := reverse(o, id, ledger.Reversal{Reason: "fraud"})
		var refusal *ledger.Refusal
		require.True(t, errors.As(err, &refusal), "%v", err)
		require.Equal(t, ledger.Conflict, refusal.Kind)
		require.Zero(t, o.Audits(t, "commission.reversed"))
		require.Zero(t, o.Count(t, `SELECT count(*) FROM commission_adjustments`))
	})
}

// TestSettlePayout settles payouts with a provider's reference and
// failure reason longer than their columns, in characters of two bytes,
// with a NUL: they are stored cut on a character boundary, not refused.
func TestSettlePayout(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	o := region.Org(t, "")
	p := o.Partner(t, "hold_days = 0")
	settle := func(outcome ledger.Outcome) ledger.Payout {
		track(t, o, sale(p, 10000, time.Now().Add(-time.Hour)))
		var settled ledger.Payout
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			created, err := ledger.CreatePayout(ctx, tx, o.ID, system,
				ledger.NewPayout{AffiliateID: p.Affiliate, Currency: "EUR", Provider: ledger.ProviderManual})
			if err != nil {
				return err
			}
			if _, _, err := ledger.StartDispatch(ctx, tx, o.ID, system, created.ID); err != nil {
				return err
			}
			settled, err = ledger.SettlePayout(ctx, tx, o.ID, system, created.ID, outcome)
			return err
		})
		return settled
	}

	paid := settle(ledger.Outcome{Ref: strings.Repeat("é", 300)})
	require.Equal(t, ledger.PayoutPaid, paid.Status)
	require.Equal(t, strings.Repeat("é", 255), *paid.ProviderRef)

	failed := settle(ledger.Outcome{Failed: true, FailureReason: "no\x00 " + strings.Repeat("é", 1200)})
	require.Equal(t, ledger.PayoutFailed, failed.Status)
	require.True(t, utf8.ValidString(*failed.FailureReason))
	require.Equal(t, 1000, utf8.RuneCountInString(*failed.FailureReason))
	require.True(t, strings.HasPrefix(*failed.FailureReason, "no é"), "NUL removed")
	require.Equal(t, 1, o.Audits(t, "payout.paid"))
	require.Equal(t, 1, o.Audits(t, "payout.failed"))
}
