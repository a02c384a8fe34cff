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

package server_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/devstack"
	"github.com/rekomi/rekomi/app/server"
)

// TestDevSignedDeliveries runs the signed delivery command rekomi dev
// prints for each Paddle, Shopify and Braintree endpoint, in bash, against
// a real server: each is received, stored once and earns the link's
// affiliate a commission; run again later it is a new sale.
func TestDevSignedDeliveries(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "openssl", "base64", "sha1sum"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "the printed commands need %s (apt-get install %s)", tool, tool)
	}
	srv := dbtest.Start(t)
	b := setupWebhooks(t, srv)
	org, _ := b.seedOrg(t, "acme", server.ScopeRead)
	p := b.org(org).Partner(t, "commission_bps = 2000")
	for _, signer := range providerSigners() {
		ep := b.seedEndpoint(t, org, endpointSeed{provider: signer.provider, secrets: signer.secrets[:]})
		h := devstack.Webhook{Name: "acme-" + signer.provider, Organization: "acme", Provider: signer.provider,
			URL: b.base + webhookPath(signer.provider, ep), Secret: signer.secrets[1]}
		cmd := devstack.SignedDelivery(h, p.Code, "EUR")
		out, err := exec.CommandContext(context.Background(), "bash", "-euo", "pipefail", "-c", cmd).CombinedOutput()
		require.NoError(t, err, "%s\n%s", cmd, out)
		require.Equal(t, "200", strings.TrimSpace(string(out)), "%s: %s", signer.provider, cmd)
		require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM billing_events WHERE provider = $1`, signer.provider), signer.provider)
		require.Equal(t, 1, b.org(org).Count(t, `SELECT count(*) FROM conversions c JOIN customers u ON u.org_id = c.org_id AND u.id = c.customer_id
			WHERE c.kind = 'sale' AND c.external_id LIKE $1 || ':%' AND c.amount = 10000 AND u.affiliate_id = $2`, signer.provider, p.Affiliate),
			"%s: a sale of 100.00 attributed to the link's affiliate", signer.provider)
	}
	require.Equal(t, 3, b.org(org).Count(t, `SELECT count(*) FROM commissions WHERE amount = 2000 AND affiliate_id = $1`, p.Affiliate))
}
