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

package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/server/auditquery"
)

// promoCodePageSize is the promo codes page's size when the query names
// no limit; maxPromoCodePageSize is the largest a query may ask for, as
// the API's lists.
const (
	promoCodePageSize    = 25
	maxPromoCodePageSize = 100
)

// promoCodeRow is one promo code as the page shows it, with the names of
// its affiliate (its name, else its email) and campaign.
type promoCodeRow struct {
	ledger.PromoCode
	Affiliate, Campaign string
}

type promoCodesData struct {
	Errors  []ledger.FieldError
	Codes   []promoCodeRow
	NextURL string // "" on the last page
}

// promoCodes answers GET /admin/promo-codes: one page of the
// organization's promo codes, newest first, disabled ones too. "Next
// page" carries starting_after, the id of the page's last code, exactly
// as the API's cursor does.
func (a *Pages) promoCodes(w http.ResponseWriter, r *http.Request) {
	values := r.URL.Query()
	cursor, errs := parsePromoCodePage(values)
	if len(errs) > 0 {
		a.render(w, r, http.StatusBadRequest, "promo_codes", page{Title: "Promo codes", Data: promoCodesData{Errors: errs}})
		return
	}
	p := apikey.PrincipalFrom(r.Context())
	var data promoCodesData
	var more bool
	err := a.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		var err error
		data.Codes, more, err = readPromoCodes(r.Context(), tx, p.OrgID, cursor)
		return err
	})
	if err != nil {
		a.internalError(w, r, "reading the promo codes", err)
		return
	}
	if more {
		next := url.Values{"starting_after": {data.Codes[len(data.Codes)-1].ID.String()}}
		if v := values.Get("limit"); v != "" {
			next.Set("limit", v)
		}
		data.NextURL = "/admin/promo-codes?" + next.Encode()
	}
	a.render(w, r, http.StatusOK, "promo_codes", page{Title: "Promo codes", Data: data})
}

// parsePromoCodePage reads limit and starting_after, refusing any other
// parameter.
func parsePromoCodePage(values url.Values) (ledger.Page, []ledger.FieldError) {
	p := ledger.Page{Limit: promoCodePageSize}
	errs := ledger.FieldErrors(auditquery.UnknownParams(values, []string{"limit", "starting_after"}))
	if v := values.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPromoCodePageSize {
			errs.Add("limit", fmt.Sprintf("must be an integer from 1 to %d", maxPromoCodePageSize))
		}
		p.Limit = n
	}
	if v := values.Get("starting_after"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			errs.Add("starting_after", "must be the id of a promo code")
		}
		p.StartingAfter = &id
	}
	return p, errs
}

// readPromoCodes reads one page of org's promo codes with the names of
// their affiliates and campaigns, and whether another page follows.
func readPromoCodes(ctx context.Context, tx pgx.Tx, org uuid.UUID, p ledger.Page) ([]promoCodeRow, bool, error) {
	list, err := ledger.ListPromoCodes(ctx, tx, org, p, ledger.PromoCodeFilter{})
	if err != nil || len(list.Data) == 0 {
		return nil, false, err
	}
	affiliates, campaigns := make([]uuid.UUID, len(list.Data)), make([]uuid.UUID, len(list.Data))
	for i, c := range list.Data {
		affiliates[i], campaigns[i] = c.AffiliateID, c.CampaignID
	}
	rows, err := tx.Query(ctx, `SELECT 'affiliate', id, coalesce(name || ' <' || email || '>', email) FROM affiliates
		WHERE org_id = $1 AND id = ANY($2)
		UNION ALL SELECT 'campaign', id, name FROM campaigns WHERE org_id = $1 AND id = ANY($3)`, org, affiliates, campaigns)
	if err != nil {
		return nil, false, fmt.Errorf("naming the promo codes' affiliates and campaigns: %w", db.MapError(err))
	}
	names := map[string]map[uuid.UUID]string{"affiliate": {}, "campaign": {}}
	var kind, name string
	var id uuid.UUID
	if _, err := pgx.ForEachRow(rows, []any{&kind, &id, &name}, func() error { names[kind][id] = name; return nil }); err != nil {
		return nil, false, fmt.Errorf("naming the promo codes' affiliates and campaigns: %w", db.MapError(err))
	}
	out := make([]promoCodeRow, len(list.Data))
	for i, c := range list.Data {
		out[i] = promoCodeRow{PromoCode: c, Affiliate: names["affiliate"][c.AffiliateID], Campaign: names["campaign"][c.CampaignID]}
	}
	return out, list.HasMore, nil
}
