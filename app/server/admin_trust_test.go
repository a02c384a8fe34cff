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
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/audit/audittest"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// TestAdminShowsWhatTheRegionStatesOfTheOrganization checks the overview's
// "Your data" lines: the Region's location, the organization's own
// retention dates, and its audit chain checked against the operator's
// witness when the page is shown, including after the database owner
// rewrote it.
func TestAdminShowsWhatTheRegionStatesOfTheOrganization(t *testing.T) {
	t.Parallel()
	witnessPub, witnessKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	dir := t.TempDir()
	b := setup(t, dbtest.Start(t), adminConfig, func(c *config.Config) {
		c.AuditWitnessDir, c.AuditWitnessPublicKey = dir, base64.StdEncoding.EncodeToString(witnessPub)
	})
	wb := &witnessBundle{bundle: b, dir: dir, key: witnessKey}
	wb.org, wb.apiKey = b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	for range 3 {
		wb.entries = append(wb.entries, b.appendAudit(t, wb.org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test",
			Action: "campaign.created", TargetType: "campaign", TargetID: "c"}))
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	wb.publishWitness(t, witness(t, wb.org, wb.entries[2], at, witnessKey))
	a := b.browser(t, "192.0.2.40")
	a.mustSignIn(t, wb.apiKey)

	overview := a.get(t, "/admin")
	require.Equal(t, http.StatusOK, overview.status)
	require.Contains(t, overview.body, `<dd id="trust-location">eu</dd>`)
	require.Contains(t, overview.body, "kept while the organization is active; 30 days after it is cancelled, every row but the audit log is purged")
	require.Regexp(t, `(?s)<dd id="trust-audit">4 entries verified, every hash and link, at [0-9: -]+Z; agrees with the operator's witness up to seq 3, witnessed 2026-11-30 12:00:00Z</dd>`,
		overview.body, "the sign-in added the fourth entry, after the witness")
	require.Contains(t, overview.body, `<a href="/trust">/trust</a>`)

	audittest.RewriteAsOwner(t, b.region.OwnerURL, wb.org, 3)
	overview = a.get(t, "/admin")
	require.Regexp(t, regexp.QuoteMeta(`departs from the operator's witness from seq 1</span> (witnessed up to seq 3 at 2026-11-30 12:00:00Z)`), overview.body)

	t.Run("ACancelledOrganizationSeesItsDates", func(t *testing.T) {
		org, key := b.seedOrg(t, "initech", server.ScopeRead, server.ScopeWrite)
		c := b.browser(t, "192.0.2.41")
		c.mustSignIn(t, key)
		b.adminExec(t, `UPDATE organizations SET status = 'cancelled', cancelled_at = '2026-12-01T09:00:00Z', purge_at = '2026-12-31T09:00:00Z' WHERE id = $1`, org)
		overview := c.get(t, "/admin")
		require.Equal(t, http.StatusOK, overview.status)
		require.Contains(t, overview.body, `<dd id="trust-retention">cancelled 2026-12-01 09:00:00Z; every row but the audit log is purged from 2026-12-31 09:00:00Z</dd>`)
		require.Contains(t, overview.body, "not witnessed yet")
	})
}
