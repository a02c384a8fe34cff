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
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/ledger/ledgertest"
)

// promoCodeCases are codes and whether they are valid, for the Go check
// and the promo_codes CHECK alike.
var promoCodeCases = map[string]bool{
	"a":                                    true,
	"SPRING":                               true,
	"spring_sale-2026":                     true,
	"-":                                    true,
	strings.Repeat("x", 64):                true,
	"":                                     false,
	strings.Repeat("x", 65):                false,
	"two words":                            false,
	" SPRING":                              false,
	"a/b":                                  false,
	"50%OFF":                               false,
	"café":                                 false,
	"\uff33\uff30\uff32\uff29\uff2e\uff27": false, // fullwidth letters
	"\u212a":                               false, // the Kelvin sign, which folds to k
	"a\x00":                                false,
	"a\n":                                  false,
}

func TestValidPromoCode(t *testing.T) {
	t.Parallel()
	for code, want := range promoCodeCases {
		require.Equal(t, want, ledger.ValidPromoCode(code), "%q", code)
	}
}

// FuzzValidPromoCode holds every code ValidPromoCode accepts (and so every
// code FindPromoCode looks up, once trimmed) to what the lookup and the
// unique index rely on: 1 to 64 bytes of ASCII letters, digits, - and _,
// so that lower case folds A-Z and nothing else, with nothing to trim.
func FuzzValidPromoCode(f *testing.F) {
	for code := range promoCodeCases {
		f.Add(code)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if !ledger.ValidPromoCode(code) {
			return
		}
		require.LessOrEqual(t, len(code), 64)
		require.NotEmpty(t, code)
		for i := range len(code) {
			c := code[i]
			require.True(t, c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z', "%q", code)
		}
		require.Equal(t, code, strings.TrimSpace(code), "a valid code has nothing to trim")
	})
}

func TestPromoCodeVerbs(t *testing.T) {
	t.Parallel()
	region := ledgertest.NewRegion(t, dbtest.Start(t))
	create := func(o ledgertest.Org, in ledger.NewPromoCode) (p ledger.PromoCode, err error) {
		return p, tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
			p, err = ledger.CreatePromoCode(ctx, tx, o.ID, system, in)
			return err
		})
	}
	mustCreate := func(t *testing.T, o ledgertest.Org, in ledger.NewPromoCode) ledger.PromoCode {
		t.Helper()
		p, err := create(o, in)
		require.NoError(t, err)
		return p
	}
	find := func(t *testing.T, o ledgertest.Org, code string) (p ledger.PromoCode, found bool) {
		t.Helper()
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) (err error) {
			p, found, err = ledger.FindPromoCode(ctx, tx, o.ID, code)
			return err
		})
		return p, found
	}
	update := func(o ledgertest.Org, id uuid.UUID, ch ledger.PromoCodeChanges) (p ledger.PromoCode, err error) {
		return p, tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
			p, err = ledger.UpdatePromoCode(ctx, tx, o.ID, system, id, ch)
			return err
		})
	}
	disable := func(o ledgertest.Org, id uuid.UUID) (p ledger.PromoCode, err error) {
		return p, tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
			p, err = ledger.DisablePromoCode(ctx, tx, o.ID, system, id)
			return err
		})
	}
	list := func(t *testing.T, o ledgertest.Org, p ledger.Page, f ledger.PromoCodeFilter) (l ledger.List[ledger.PromoCode]) {
		t.Helper()
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) (err error) {
			l, err = ledger.ListPromoCodes(ctx, tx, o.ID, p, f)
			return err
		})
		return l
	}
	ids := func(l ledger.List[ledger.PromoCode]) []uuid.UUID {
		var out []uuid.UUID
		for _, p := range l.Data {
			out = append(out, p.ID)
		}
		return out
	}
	newCode := func(p ledgertest.Partner, code string) ledger.NewPromoCode {
		return ledger.NewPromoCode{Code: code, AffiliateID: p.Affiliate, CampaignID: p.Campaign}
	}

	t.Run("CreatesAndFindsWithoutRegardToCase", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		partner := o.Partner(t, "")
		p := mustCreate(t, o, newCode(partner, "Spring-2026"))
		require.Equal(t, "promo_code", p.Object)
		require.Equal(t, "Spring-2026", p.Code, "kept as written")
		require.Equal(t, partner.Affiliate, p.AffiliateID)
		require.Equal(t, partner.Campaign, p.CampaignID)
		require.Nil(t, p.DisabledAt)
		require.Equal(t, 1, o.Audits(t, "promo_code.created", p.ID))
		for _, typed := range []string{"Spring-2026", "spring-2026", "SPRING-2026", "  sPrInG-2026\t\n"} {
			got, found := find(t, o, typed)
			require.True(t, found, "%q", typed)
			require.Equal(t, p, got, "%q", typed)
		}
		for _, typed := range []string{"Spring", "Spring-2026x", "Spring 2026", "", "   ", "Spring\x00-2026", strings.Repeat("s", 65)} {
			_, found := find(t, o, typed)
			require.False(t, found, "%q", typed)
		}
		o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			got, err := ledger.GetPromoCode(ctx, tx, o.ID, p.ID)
			require.Equal(t, p, got)
			return err
		})
	})

	t.Run("RefusesACodeTheOrganizationHasInAnyCase", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		partner := o.Partner(t, "")
		first := mustCreate(t, o, newCode(partner, "SUMMER"))
		for _, code := range []string{"SUMMER", "summer", "Summer"} {
			_, err := create(o, newCode(o.Partner(t, ""), code))
			require.ErrorIs(t, err, ledger.ErrPromoCodeTaken, code)
		}
		_, err := disable(o, first.ID)
		require.NoError(t, err)
		_, err = create(o, newCode(partner, "summer"))
		require.ErrorIs(t, err, ledger.ErrPromoCodeTaken, "a disabled code stays taken")
		require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM promo_codes`))
		require.Equal(t, 1, o.Audits(t, "promo_code.created"), "a refused code is not audited")
	})

	t.Run("TheSameCodeInTwoOrganizationsNeverCrosses", func(t *testing.T) {
		t.Parallel()
		a, b := region.Org(t, ""), region.Org(t, "")
		pa, pb := a.Partner(t, ""), b.Partner(t, "")
		codeA := mustCreate(t, a, newCode(pa, "SPRING"))
		codeB := mustCreate(t, b, newCode(pb, "spring"))
		require.NotEqual(t, codeA.ID, codeB.ID)

		for _, typed := range []string{"SPRING", "spring", "Spring"} {
			got, found := find(t, a, typed)
			require.True(t, found)
			require.Equal(t, codeA, got, "org A finds its own code only")
			got, found = find(t, b, typed)
			require.True(t, found)
			require.Equal(t, codeB, got, "org B finds its own code only")
		}
		require.Equal(t, []uuid.UUID{codeA.ID}, ids(list(t, a, ledger.Page{Limit: 100}, ledger.PromoCodeFilter{})))
		require.Equal(t, []uuid.UUID{codeB.ID}, ids(list(t, b, ledger.Page{Limit: 100}, ledger.PromoCodeFilter{})))
		require.Empty(t, list(t, a, ledger.Page{Limit: 100}, ledger.PromoCodeFilter{AffiliateID: &pb.Affiliate}).Data)
		require.Empty(t, list(t, a, ledger.Page{Limit: 100}, ledger.PromoCodeFilter{CampaignID: &pb.Campaign}).Data)

		a.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
			_, err := ledger.GetPromoCode(ctx, tx, a.ID, codeB.ID)
			require.ErrorIs(t, err, db.ErrNotFound)
			return nil
		})
		_, err := update(a, codeB.ID, ledger.PromoCodeChanges{AffiliateID: &pa.Affiliate})
		require.ErrorIs(t, err, db.ErrNotFound)
		_, err = update(b, codeB.ID, ledger.PromoCodeChanges{AffiliateID: &pa.Affiliate})
		var errs ledger.FieldErrors
		require.ErrorAs(t, err, &errs, "another organization's affiliate is not one to credit")
		require.Equal(t, []string{"affiliate_id"}, fieldNames(errs))
		_, err = disable(a, codeB.ID)
		require.ErrorIs(t, err, db.ErrNotFound)
		_, err = create(a, ledger.NewPromoCode{Code: "AUTUMN", AffiliateID: pb.Affiliate, CampaignID: pb.Campaign})
		require.ErrorAs(t, err, &errs)
		require.Equal(t, []string{"affiliate_id", "campaign_id"}, fieldNames(errs))

		_, err = disable(a, codeA.ID)
		require.NoError(t, err)
		_, found := find(t, a, "spring")
		require.False(t, found, "A's disabled code matches nothing, and B's is not A's")
		got, found := find(t, b, "spring")
		require.True(t, found)
		require.Equal(t, codeB, got, "B's code is untouched")
		require.Zero(t, b.Audits(t, "promo_code.disabled"))
		require.Zero(t, b.Audits(t, "promo_code.updated"))
	})

	t.Run("RefusesMalformedCodesAndUnusableTargets", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p := o.Partner(t, "")
		archived := o.Campaign(t, "archived_at = now()")
		suspended := o.Affiliate(t, "s-"+uuid.NewString()[:8]+"@partners.example", "suspended")
		for code, valid := range promoCodeCases {
			if !valid {
				_, err := create(o, newCode(p, code))
				var errs ledger.FieldErrors
				require.ErrorAs(t, err, &errs, "%q", code)
				require.Equal(t, []string{"code"}, fieldNames(errs), "%q", code)
			}
		}
		for name, tc := range map[string]struct {
			in   ledger.NewPromoCode
			want []string
		}{
			"an unknown affiliate":                 {ledger.NewPromoCode{AffiliateID: uuid.New(), CampaignID: p.Campaign}, []string{"affiliate_id"}},
			"a suspended affiliate":                {ledger.NewPromoCode{AffiliateID: suspended, CampaignID: p.Campaign}, []string{"affiliate_id"}},
			"an unknown campaign":                  {ledger.NewPromoCode{AffiliateID: p.Affiliate, CampaignID: uuid.New()}, []string{"campaign_id"}},
			"an archived campaign":                 {ledger.NewPromoCode{AffiliateID: p.Affiliate, CampaignID: archived}, []string{"campaign_id"}},
			"a suspended affiliate and an archive": {ledger.NewPromoCode{AffiliateID: suspended, CampaignID: archived}, []string{"affiliate_id", "campaign_id"}},
		} {
			tc.in.Code = "WINTER"
			_, err := create(o, tc.in)
			var errs ledger.FieldErrors
			require.ErrorAs(t, err, &errs, name)
			require.Equal(t, tc.want, fieldNames(errs), name)
		}
		require.Zero(t, o.Count(t, `SELECT count(*) FROM promo_codes`))
		require.Zero(t, o.Audits(t, "promo_code.created"))
	})

	t.Run("UpdatesAndDisablesOnce", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p, other := o.Partner(t, ""), o.Partner(t, "")
		code := mustCreate(t, o, newCode(p, "FALL"))

		same, err := update(o, code.ID, ledger.PromoCodeChanges{AffiliateID: &p.Affiliate, CampaignID: &p.Campaign})
		require.NoError(t, err)
		require.Equal(t, code, same, "changes that change nothing write nothing")
		moved, err := update(o, code.ID, ledger.PromoCodeChanges{AffiliateID: &other.Affiliate})
		require.NoError(t, err)
		require.Equal(t, other.Affiliate, moved.AffiliateID)
		require.Equal(t, p.Campaign, moved.CampaignID, "a field left out is kept")
		require.Equal(t, "FALL", moved.Code)
		found, ok := find(t, o, "fall")
		require.True(t, ok)
		require.Equal(t, other.Affiliate, found.AffiliateID, "the code credits its new affiliate")
		require.Equal(t, 1, o.Audits(t, "promo_code.updated", code.ID))
		require.Equal(t, 1, o.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'promo_code.updated'
			AND metadata->'changed' = '["affiliate_id"]' AND metadata->>'affiliate_id' = $1`, other.Affiliate.String()))

		o.Exec(t, nil, `UPDATE affiliates SET status = 'suspended' WHERE org_id = $1 AND id = $2`, o.ID, p.Affiliate)
		_, err = update(o, code.ID, ledger.PromoCodeChanges{AffiliateID: &p.Affiliate})
		var errs ledger.FieldErrors
		require.ErrorAs(t, err, &errs)
		require.Equal(t, []string{"affiliate_id"}, fieldNames(errs))

		for range 2 {
			d, err := disable(o, code.ID)
			require.NoError(t, err)
			require.NotNil(t, d.DisabledAt)
		}
		require.Equal(t, 1, o.Audits(t, "promo_code.disabled", code.ID), "disabling twice is audited once")
		_, ok = find(t, o, "FALL")
		require.False(t, ok, "a disabled code matches nothing")

		_, err = update(o, code.ID, ledger.PromoCodeChanges{CampaignID: &other.Campaign})
		require.ErrorIs(t, err, ledger.ErrPromoCodeDisabled)
		unchanged, err := update(o, code.ID, ledger.PromoCodeChanges{AffiliateID: &other.Affiliate})
		require.NoError(t, err, "a change to what it already is changes nothing, disabled or not")
		require.Equal(t, p.Campaign, unchanged.CampaignID)
		require.Equal(t, 1, o.Audits(t, "promo_code.updated", code.ID))

		_, err = update(o, uuid.New(), ledger.PromoCodeChanges{})
		require.ErrorIs(t, err, db.ErrNotFound)
		_, err = disable(o, uuid.New())
		require.ErrorIs(t, err, db.ErrNotFound)
	})

	t.Run("ListsPagesAndFilters", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p1, p2 := o.Partner(t, ""), o.Partner(t, "")
		c1 := mustCreate(t, o, newCode(p1, "ONE"))
		c2 := mustCreate(t, o, ledger.NewPromoCode{Code: "TWO", AffiliateID: p1.Affiliate, CampaignID: p2.Campaign})
		c3 := mustCreate(t, o, newCode(p2, "THREE"))
		_, err := disable(o, c2.ID)
		require.NoError(t, err)

		first := list(t, o, ledger.Page{Limit: 2}, ledger.PromoCodeFilter{})
		require.True(t, first.HasMore)
		require.Equal(t, []uuid.UUID{c3.ID, c2.ID}, ids(first), "newest first, disabled ones too")
		second := list(t, o, ledger.Page{Limit: 2, StartingAfter: &c2.ID}, ledger.PromoCodeFilter{})
		require.False(t, second.HasMore)
		require.Equal(t, []uuid.UUID{c1.ID}, ids(second))
		require.Equal(t, []uuid.UUID{c2.ID, c1.ID}, ids(list(t, o, ledger.Page{Limit: 10}, ledger.PromoCodeFilter{AffiliateID: &p1.Affiliate})))
		require.Equal(t, []uuid.UUID{c3.ID, c2.ID}, ids(list(t, o, ledger.Page{Limit: 10}, ledger.PromoCodeFilter{CampaignID: &p2.Campaign})))
		require.Equal(t, []uuid.UUID{c2.ID}, ids(list(t, o, ledger.Page{Limit: 10},
			ledger.PromoCodeFilter{AffiliateID: &p1.Affiliate, CampaignID: &p2.Campaign})))
	})

	// The database holds the rules on its own, for whatever writes to it.
	t.Run("TheTableKeepsTheRulesItself", func(t *testing.T) {
		t.Parallel()
		o := region.Org(t, "")
		p := o.Partner(t, "")
		insert := func(code string) error {
			return tenantTx(o, func(ctx context.Context, tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO promo_codes (org_id, affiliate_id, campaign_id, code) VALUES ($1, $2, $3, $4)`,
					o.ID, p.Affiliate, p.Campaign, code)
				return db.MapError(err)
			})
		}
		for code, valid := range promoCodeCases {
			err := insert(code)
			switch {
			case valid:
				require.NoError(t, err, "%q", code)
			case strings.ContainsRune(code, 0):
				require.Error(t, err, "%q: text cannot hold NUL at all", code)
			default:
				require.ErrorIs(t, err, db.ErrInvalid, "%q: the CHECK refuses it", code)
			}
		}
		for _, code := range []string{"Spring_Sale-2026", "SPRING_SALE-2026", "A"} {
			require.ErrorIs(t, insert(code), db.ErrConflict, "%q: another case of a stored code", code)
		}
		require.ErrorIs(t, insert("\uff21"), db.ErrInvalid, "no letter outside ASCII, whose case would fold otherwise")
	})
}
