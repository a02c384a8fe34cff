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
	"bytes"
	"context"
	"image/png"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// chromiumPath is the browser the test drives: REKOMI_CHROMIUM, or
// chromium on the PATH. Without one the test fails: it never skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	name := "chromium"
	if p := os.Getenv("REKOMI_CHROMIUM"); p != "" {
		name = p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("chromium is not installed: run hack/install-chromium.sh (or set REKOMI_CHROMIUM to a Chromium executable): %v", err)
	}
	return p
}

// headlessChromium starts a fresh headless Chromium for the test and
// returns a tab's context; everything ends with the test, or two minutes
// after the call: make it once the test's setup is done.
func headlessChromium(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(allocCancel)
	tab, tabCancel := chromedp.NewContext(allocCtx)
	t.Cleanup(tabCancel)
	return tab
}

// rowsOf reads a table body's rows, each as its cells' text.
func rowsOf(t *testing.T, tab context.Context, table string) [][]string {
	t.Helper()
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(table+" tbody")))
	require.NoError(t, err)
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

// TestAdminInABrowser signs in, reads the promo codes, searches the audit
// log and pages through it in a real headless Chromium, with the pages' CSP
// in force.
func TestAdminInABrowser(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, adminConfig)
	org, key := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	for i := range 60 {
		action := "campaign.created"
		if i%3 == 2 {
			action = "campaign.updated"
		}
		b.appendAudit(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "seed", Action: action,
			TargetType: "campaign", TargetID: "cmp-" + strconv.Itoa(i), IP: netip.MustParseAddr("203.0.113.9"),
			RequestID: "req-seed-" + strconv.Itoa(i)})
	}
	created := b.auditAll(t, key, "action=campaign.created")
	require.Len(t, created, 40)
	partner := b.org(org).Partner(t, "")
	spring := b.org(org).PromoCode(t, partner.Affiliate, partner.Campaign, "Spring-2026")
	autumn := b.org(org).PromoCode(t, partner.Affiliate, partner.Campaign, "AUTUMN")
	b.org(org).Exec(t, nil, `UPDATE promo_codes SET disabled_at = '2026-03-01T10:00:00Z' WHERE id = $1`, spring)

	tab := headlessChromium(t)

	// A signed-out browser lands on the sign-in form.
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(b.base+"/admin")))
	location, err := chromedp.Run(tab, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, b.base+"/admin/sign-in", location)

	// Signing in shows the overview.
	resp, err := chromedp.RunResponse(tab, chromedp.SendKeys(chromedp.ID("token"), key), chromedp.Click(chromedp.ID("sign-in")))
	require.NoError(t, err)
	require.EqualValues(t, 200, resp.Status)
	require.NoError(t, chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("org-name"))))
	name, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("org-name")))
	require.NoError(t, err)
	require.Equal(t, "acme", name)
	styled, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("table")).borderCollapse`))
	require.NoError(t, err)
	require.Equal(t, "collapse", styled, "the style sheet loads under the CSP")

	// The promo codes, from the nav: the newest first, each with its
	// affiliate, campaign and status.
	_, err = chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("nav-promo-codes")))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("promo-code-"+autumn.String()))))
	codes := rowsOf(t, tab, "#promo-codes")
	require.Len(t, codes, 2)
	require.Equal(t, []string{"AUTUMN", partner.Email}, codes[0][:2])
	require.Equal(t, "active", codes[0][3])
	require.Equal(t, []string{"Spring-2026", partner.Email}, codes[1][:2])
	require.Equal(t, "disabled 2026-03-01 10:00:00Z", codes[1][3])
	require.Equal(t, codes[0][2], codes[1][2], "both codes' campaign")
	require.True(t, strings.HasPrefix(codes[0][2], "campaign-"), "%q", codes[0][2])

	// The audit log, searched by action.
	_, err = chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("nav-audit-log")))
	require.NoError(t, err)
	_, err = chromedp.RunResponse(tab, chromedp.SendKeys(chromedp.ID("action"), "campaign.created"), chromedp.Click(chromedp.ID("search-button")))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`#action[value="campaign.created"]`))))
	first := rowsOf(t, tab, "#results")
	require.Len(t, first, 25)
	for i, row := range first {
		require.Len(t, row, 7, "%q", row)
		require.Equal(t, strconv.FormatInt(created[i].Seq, 10), row[0])
		require.Equal(t, "system:seed", row[2])
		require.Equal(t, "campaign.created", row[3])
		require.Equal(t, "campaign:"+created[i].Target.ID, row[4])
		require.Equal(t, "203.0.113.9", row[5])
		require.Equal(t, *created[i].RequestID, row[6])
	}

	// The next page holds the rest.
	_, err = chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("next-page")))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("entry-"+strconv.FormatInt(created[25].Seq, 10)))))
	location, err = chromedp.Run(tab, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, location, "starting_after="+strconv.FormatInt(created[24].Seq, 10))
	second := rowsOf(t, tab, "#results")
	require.Len(t, second, 15)
	for i, row := range second {
		require.Equal(t, strconv.FormatInt(created[25+i].Seq, 10), row[0])
		require.Equal(t, "campaign.created", row[3])
		require.Equal(t, "campaign:"+created[25+i].Target.ID, row[4])
	}
	nodes, err := chromedp.Run(tab, chromedp.Nodes(chromedp.CSSAll("#next-page"), chromedp.AtLeast(0)))
	require.NoError(t, err)
	require.Empty(t, nodes, "the last page has no next page")

	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "admin-audit-log.png")
	require.NoError(t, os.WriteFile(path, shot, 0o600))
	written, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(written, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	cfg, err := png.DecodeConfig(bytes.NewReader(written))
	require.NoError(t, err)
	require.Positive(t, cfg.Width)
	require.Positive(t, cfg.Height)
	t.Logf("Screenshot: %s (%d bytes)", path, len(written))
}
