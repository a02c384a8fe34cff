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
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
)

// The colours the page's style sheet gives a claim that holds and one that
// fails (app/trust/templates/trust.css).
var (
	holdsColour = [3]uint8{0x0a, 0x7d, 0x32}
	failsColour = [3]uint8{0xb0, 0x00, 0x20}
)

// TestTrustInABrowser renders /trust in a headless Chromium under its
// Content-Security-Policy, checks every section on screen, then breaks
// tenant isolation in the database and checks that the page turns the
// claim red, and green again once repaired.
func TestTrustInABrowser(t *testing.T) {
	t.Parallel()
	b := setupTrust(t, dbtest.Start(t))
	b.verified(t)
	tab := headlessChromium(t)

	load := func() {
		t.Helper()
		resp, err := chromedp.Run(tab, chromedp.NavigateResponse(b.base+"/trust"))
		require.NoError(t, err)
		require.EqualValues(t, 200, resp.Status)
		require.NoError(t, chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("claims"))))
	}
	load()
	styled, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#claim-tenant_tables .holds")).color`))
	require.NoError(t, err)
	require.Equal(t, "rgb(10, 125, 50)", styled, "the style sheet loads under the CSP")
	scripts, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.scripts.length`))
	require.NoError(t, err)
	require.Zero(t, scripts)

	for _, section := range []string{"claims", "runtime-role", "tenant-tables", "audit-log", "webhooks", "transport", "location", "non-claims", "signature"} {
		shot, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.ID(section)))
		require.NoError(t, err, section)
		img := decodePNG(t, shot)
		require.Greater(t, img.Bounds().Dx(), 200, "%s is laid out", section)
		require.Greater(t, img.Bounds().Dy(), 20, "%s is laid out", section)
	}
	row := func() image.Image {
		t.Helper()
		shot, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.ID("claim-tenant_tables")))
		require.NoError(t, err)
		return decodePNG(t, shot)
	}
	green := row()
	require.Positive(t, pixelsNear(green, holdsColour), "the claim is shown holding, in green")
	require.Zero(t, pixelsNear(green, failsColour), "nothing of the claim is red")
	saveScreenshot(t, tab, "trust.png")

	// shows reloads the page until it shows the claim holding or not.
	shows := func(holds, why string) {
		t.Helper()
		require.Eventually(t, func() bool {
			load()
			got, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.ID("claim-tenant_tables"), "data-holds"))
			require.NoError(t, err)
			return got.Value == holds
		}, 20*time.Second, 50*time.Millisecond, why)
	}

	dbtest.Exec(t, b.region.AdminURL, "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
	shows("false", "the page must mark the claim failed within the check interval")
	red := row()
	require.Positive(t, pixelsNear(red, failsColour), "the failed claim is shown in red")
	findings, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#claim-tenant_tables td:nth-child(4)")))
	require.NoError(t, err)
	require.Contains(t, findings, "campaigns")
	banner, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("overall")))
	require.NoError(t, err)
	require.Contains(t, banner, "At least one claim below fails")
	saveScreenshot(t, tab, "trust-drift.png")

	dbtest.Exec(t, b.region.AdminURL, "ALTER TABLE campaigns FORCE ROW LEVEL SECURITY")
	shows("true", "the page must recover once repaired")
	require.Zero(t, pixelsNear(row(), failsColour))
}

func decodePNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	return img
}

// pixelsNear counts the pixels within a small distance of colour: text is
// anti-aliased, but its core pixels are the style sheet's colour.
func pixelsNear(img image.Image, colour [3]uint8) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			d := absDiff(uint8(r>>8), colour[0]) + absDiff(uint8(g>>8), colour[1]) + absDiff(uint8(bl>>8), colour[2])
			if d <= 24 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// saveScreenshot keeps a screenshot of the whole page for a person to look
// at, and checks it is one.
func saveScreenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
	require.NoError(t, err)
	decodePNG(t, shot)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, shot, 0o600))
	t.Logf("Screenshot: %s (%d bytes)", path, len(shot))
}
