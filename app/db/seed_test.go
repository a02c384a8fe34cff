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

package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// seedOrg writes one row of the organization into every tenant table, as a
// role that bypasses row-level security, and returns the organization's id.
// The isolation tests fail when a tenant table has no seed row, so a new
// table must be added here.
func seedOrg(t *testing.T, admin *pgx.Conn, name string) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	org := uuid.New()
	ids := map[string]uuid.UUID{}
	for _, k := range []string{"member", "key", "endpoint", "campaign", "affiliate", "invite", "link",
		"visitor", "customer", "conversion", "payout", "commission", "adjustment", "event", "audit"} {
		ids[k] = uuid.New()
	}
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, []any{org, name}},
		{`INSERT INTO members (org_id, id, external_user_id, email, role) VALUES ($1, $2, 'user_' || $3, $3 || '@example.com', 'owner')`,
			[]any{org, ids["member"], name}},
		{`INSERT INTO api_keys (org_id, id, name, prefix, hash, scopes, created_by)
		  VALUES ($1, $2, 'ci', 'rk_live_' || $3, sha256($4), '{read,write}', 'test')`, []any{org, ids["key"], name, []byte(name)}},
		{`INSERT INTO webhook_endpoints (org_id, id, name, provider, secrets) VALUES ($1, $2, 'default/' || $3, 'stripe', '\x00')`,
			[]any{org, ids["endpoint"], name}},
		{`INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('webhook_endpoint', $3, $1, $2)`,
			[]any{org, ids["endpoint"], ids["endpoint"].String()}},
		{`INSERT INTO campaigns (org_id, id, name, currency, commission_type, commission_bps) VALUES ($1, $2, 'Launch ' || $3, 'EUR', 'percentage', 2000)`,
			[]any{org, ids["campaign"], name}},
		{`INSERT INTO affiliates (org_id, id, email, status) VALUES ($1, $2, 'partner@' || $3 || '.example', 'active')`,
			[]any{org, ids["affiliate"], name}},
		{`INSERT INTO affiliate_invites (org_id, id, affiliate_id, campaign_id, token_hash, expires_at)
		  VALUES ($1, $2, $3, $4, sha256($5), now() + interval '7 days')`,
			[]any{org, ids["invite"], ids["affiliate"], ids["campaign"], []byte(ids["invite"].String())}},
		{`INSERT INTO referral_links (org_id, id, affiliate_id, campaign_id, code, destination_url)
		  VALUES ($1, $2, $3, $4, 'code-' || $5, 'https://' || $5 || '.example/')`,
			[]any{org, ids["link"], ids["affiliate"], ids["campaign"], name}},
		{`INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('link_code', 'code-' || $2, $1, $3)`,
			[]any{org, name, ids["link"]}},
		{`INSERT INTO promo_codes (org_id, code, affiliate_id, campaign_id) VALUES ($1, 'SPRING', $2, $3)`,
			[]any{org, ids["affiliate"], ids["campaign"]}},
		{`INSERT INTO clicks (org_id, link_id, visitor_id, occurred_at, ip) VALUES ($1, $2, $3, now(), '192.0.2.0')`,
			[]any{org, ids["link"], ids["visitor"]}},
		{`INSERT INTO customers (org_id, id, external_id, email, affiliate_id, link_id, click_id, attributed_at, campaign_id)
		  VALUES ($1, $2, 'cus_' || $4, 'buyer@' || $4 || '.example', $3, $5, (SELECT max(id) FROM clicks WHERE org_id = $1), now(), $6)`,
			[]any{org, ids["customer"], ids["affiliate"], name, ids["link"], ids["campaign"]}},
		{`INSERT INTO conversions (org_id, id, customer_id, kind, external_id, amount, currency, affiliate_id, campaign_id, occurred_at)
		  VALUES ($1, $2, $3, 'sale', 'in_' || $6, 4900, 'EUR', $4, $5, now())`,
			[]any{org, ids["conversion"], ids["customer"], ids["affiliate"], ids["campaign"], name}},
		{`INSERT INTO sale_reductions (org_id, conversion_id, kind, source, amount, currency, status)
		  VALUES ($1, $2, 'refund', 'stripe:charge:ch_' || $3, 4900, 'EUR', 'refunded')`,
			[]any{org, ids["conversion"], name}},
		{`INSERT INTO payouts (org_id, id, affiliate_id, amount, currency, provider) VALUES ($1, $2, $3, 980, 'EUR', 'manual')`,
			[]any{org, ids["payout"], ids["affiliate"]}},
		{`INSERT INTO commissions (org_id, id, conversion_id, affiliate_id, campaign_id, amount, currency, approve_after, payout_id)
		  VALUES ($1, $2, $3, $4, $5, 980, 'EUR', now(), $6)`,
			[]any{org, ids["commission"], ids["conversion"], ids["affiliate"], ids["campaign"], ids["payout"]}},
		{`INSERT INTO payout_items (org_id, payout_id, commission_id, amount, currency) VALUES ($1, $2, $3, 980, 'EUR')`,
			[]any{org, ids["payout"], ids["commission"]}},
		{`INSERT INTO commission_adjustments (org_id, id, commission_id, affiliate_id, amount, currency, reason)
		  VALUES ($1, $4, $2, $3, -980, 'EUR', 'refunded')`,
			[]any{org, ids["commission"], ids["affiliate"], ids["adjustment"]}},
		{`INSERT INTO payout_deductions (org_id, payout_id, adjustment_id, amount, currency) VALUES ($1, $2, $3, -980, 'EUR')`,
			[]any{org, ids["payout"], ids["adjustment"]}},
		{`INSERT INTO billing_events (org_id, id, endpoint_id, provider, event_id, type, payload)
		  VALUES ($1, $2, $3, 'stripe', 'evt_' || $4, 'invoice.paid', '{}')`,
			[]any{org, ids["event"], ids["endpoint"], name}},
		{`INSERT INTO audit_log (org_id, id, actor_type, actor_id, action, target_type, target_id)
		  VALUES ($1, $2, 'system', 'seed', 'organization.created', 'organization', $3)`,
			[]any{org, ids["audit"], org.String()}},
		{`INSERT INTO idempotency_keys (org_id, key, request_hash, status, content_type, body)
		  VALUES ($1, 'seed-' || $2, sha256($3), 201, 'application/json', '{}')`,
			[]any{org, name, []byte(name)}},
		{`INSERT INTO admin_sessions (org_id, id, api_key_id, expires_at) VALUES ($1, gen_random_uuid(), $2, now() + interval '8 hours')`,
			[]any{org, ids["key"]}},
		{`INSERT INTO org_data_keys (org_id, sealed_key) VALUES ($1, sha256($2))`, []any{org, []byte(name)}},
	}
	for _, s := range stmts {
		_, err := admin.Exec(ctx, s.sql, s.args...)
		require.NoError(t, err, "seeding: %s", s.sql)
	}
	return org
}
