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

// Package ledgertest seeds an organization's ledger for tests: a migrated
// Region database, organizations in it (written as the database owner, as
// the operator does), and campaigns, affiliates, links, promo codes, clicks
// and commissions written as the runtime role in each organization's tenant
// transaction, as the API and a tracked sale would have; Org.Audits counts
// its audit entries. It is the one factory the ledger's, the billing
// effects' and the HTTP API's tests seed through.
package ledgertest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
)

// Region is a migrated Region database: DB is its runtime role's pool,
// Admin its owner's connection string.
type Region struct {
	DB    *db.DB
	Admin string
}

// NewRegion provisions and migrates a Region database on srv and opens
// its runtime pool, closed when t ends.
func NewRegion(t testing.TB, srv *dbtest.Server) *Region {
	t.Helper()
	region := regiondb.New(t, srv)
	return Open(t, region)
}

// Open opens the runtime pool of a Region database made by regiondb,
// closed when t ends.
func Open(t testing.TB, region *regiondb.DB) *Region {
	t.Helper()
	database, err := db.Open(context.Background(), region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(database.Close)
	return &Region{DB: database, Admin: region.AdminURL}
}

// AsOwner runs sql as the database owner.
func (r *Region) AsOwner(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, r.Admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err)
}

// Org is an organization of a Region.
type Org struct {
	Region *Region
	ID     uuid.UUID
	Name   string
}

// Org adds a live organization on the pro plan, as the operator does;
// name "" picks a unique one.
func (r *Region) Org(t testing.TB, name string) Org {
	t.Helper()
	if name == "" {
		name = "shop-" + uuid.NewString()[:8]
	}
	o := Org{Region: r, ID: uuid.New(), Name: name}
	r.AsOwner(t, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, o.ID, o.Name)
	return o
}

// Owner adds the organization's owner member, external user user with
// email, as the operator does.
func (o Org) Owner(t testing.TB, user, email string) {
	t.Helper()
	o.Region.AsOwner(t, `INSERT INTO members (org_id, external_user_id, email, role) VALUES ($1, $2, $3, 'owner')`, o.ID, user, email)
}

// Tx runs fn in the organization's tenant transaction, failing t on an
// error.
func (o Org) Tx(t testing.TB, fn func(ctx context.Context, tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, o.Region.DB.TenantTx(ctx, o.ID, func(tx pgx.Tx) error { return fn(ctx, tx) }))
}

// Exec runs sql in the organization's tenant transaction, scanning the
// one row it returns into dest, if any.
func (o Org) Exec(t testing.TB, dest []any, sql string, args ...any) {
	t.Helper()
	o.Tx(t, func(ctx context.Context, tx pgx.Tx) error {
		if len(dest) == 0 {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		}
		return tx.QueryRow(ctx, sql, args...).Scan(dest...)
	})
}

// Count runs a query of one integer in the organization's transaction.
func (o Org) Count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	o.Exec(t, []any{&n}, sql, args...)
	return n
}

// Audits counts the organization's audit entries of action; with a
// target, only those on it.
func (o Org) Audits(t testing.TB, action string, target ...uuid.UUID) int {
	t.Helper()
	if len(target) > 0 {
		return o.Count(t, `SELECT count(*) FROM audit_log WHERE action = $1 AND target_id = $2`, action, target[0].String())
	}
	return o.Count(t, `SELECT count(*) FROM audit_log WHERE action = $1`, action)
}

// Campaign adds a 10% one-time EUR campaign with a 60-day last-click
// window and a 30-day hold, then applies set, an SQL SET list ("" for
// none).
func (o Org) Campaign(t testing.TB, set string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	o.Exec(t, []any{&id}, `INSERT INTO campaigns (org_id, name, currency, commission_type, commission_bps)
		VALUES ($1, $2, 'EUR', 'percentage', 1000) RETURNING id`, o.ID, "campaign-"+uuid.NewString())
	if set != "" {
		o.Exec(t, nil, `UPDATE campaigns SET `+set+` WHERE org_id = $1 AND id = $2`, o.ID, id)
	}
	return id
}

// Affiliate adds an affiliate with email in status.
func (o Org) Affiliate(t testing.TB, email, status string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	o.Exec(t, []any{&id}, `INSERT INTO affiliates (org_id, email, status) VALUES ($1, $2, $3) RETURNING id`, o.ID, email, status)
	return id
}

// Link adds an enabled link of the affiliate in the campaign and returns
// its id and code.
func (o Org) Link(t testing.TB, affiliate, campaign uuid.UUID) (uuid.UUID, string) {
	t.Helper()
	var id uuid.UUID
	code := "code-" + uuid.NewString()[:13]
	o.Exec(t, []any{&id}, `INSERT INTO referral_links (org_id, affiliate_id, campaign_id, code, destination_url)
		VALUES ($1, $2, $3, $4, 'https://shop.example/') RETURNING id`, o.ID, affiliate, campaign, code)
	return id, code
}

// PromoCode adds an enabled promo code of the affiliate in the campaign
// and returns its id.
func (o Org) PromoCode(t testing.TB, affiliate, campaign uuid.UUID, code string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	o.Exec(t, []any{&id}, `INSERT INTO promo_codes (org_id, affiliate_id, campaign_id, code) VALUES ($1, $2, $3, $4) RETURNING id`,
		o.ID, affiliate, campaign, code)
	return id
}

// Partner is an active affiliate with a link in a campaign of its own.
type Partner struct {
	Affiliate, Campaign, Link uuid.UUID
	Code, Email               string
}

// Partner adds a campaign (see Campaign for set), an active affiliate and
// its link in that campaign.
func (o Org) Partner(t testing.TB, campaignSet string) Partner {
	t.Helper()
	p := Partner{Email: "aff-" + uuid.NewString()[:8] + "@partners.example", Campaign: o.Campaign(t, campaignSet)}
	p.Affiliate = o.Affiliate(t, p.Email, "active")
	p.Link, p.Code = o.Link(t, p.Affiliate, p.Campaign)
	return p
}

// Click records a click of visitor on the link at at; bot marks it as a
// bot's.
func (o Org) Click(t testing.TB, link, visitor uuid.UUID, at time.Time, bot bool) int64 {
	t.Helper()
	var id int64
	o.Exec(t, []any{&id}, `INSERT INTO clicks (org_id, link_id, visitor_id, occurred_at, is_bot) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		o.ID, link, visitor, at, bot)
	return id
}

// Commission adds a commission of amount in currency to the affiliate in
// the campaign, in status (approved ones approved now), due for approval
// at approveAfter, on a sale of five times amount by a new customer of the
// affiliate.
func (o Org) Commission(t testing.TB, affiliate, campaign uuid.UUID, amount int64, currency, status string, approveAfter time.Time) uuid.UUID {
	t.Helper()
	customer, conversion, id := uuid.New(), uuid.New(), uuid.New()
	o.Exec(t, nil, `INSERT INTO customers (org_id, id, affiliate_id, campaign_id) VALUES ($1, $2, $3, $4)`, o.ID, customer, affiliate, campaign)
	o.Exec(t, nil, `INSERT INTO conversions (org_id, id, customer_id, kind, amount, currency, affiliate_id, campaign_id, occurred_at)
		VALUES ($1, $2, $3, 'sale', $4, $5, $6, $7, now())`, o.ID, conversion, customer, amount*5, currency, affiliate, campaign)
	o.Exec(t, nil, `INSERT INTO commissions (org_id, id, conversion_id, affiliate_id, campaign_id, amount, currency, status, approve_after, approved_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $8 = 'approved' THEN now() END)`,
		o.ID, id, conversion, affiliate, campaign, amount, currency, status, approveAfter)
	return id
}
