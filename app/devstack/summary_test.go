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

package devstack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWriteSummary checks that the summary is printed and kept, and that
// stack.json holds the same facts under documented names, private to the
// caller.
func TestWriteSummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := &Stack{
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Apps: []App{{Region: "eu", URL: "http://127.0.0.1:4001", MetricsURL: "http://127.0.0.1:4002",
			TrustURL: "http://127.0.0.1:4001/trust", TrustPublicKey: "cHVibGlj"}},
		Orgs: []Org{{Name: "acme", Region: "eu", APIKey: "rk_live_abc_def"}},
		Webhooks: []Webhook{{Name: "acme-stripe", Organization: "acme", Provider: "stripe",
			URL: "http://127.0.0.1:4001/webhooks/stripe/0b6c", Secret: "whsec_x"}},
	}
	var out bytes.Buffer
	require.NoError(t, writeSummary(Options{Dir: dir, Out: &out}, s, 1500*time.Millisecond))

	printed := out.String()
	require.Contains(t, printed, "ready in 1.5s")
	summary, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	require.NoError(t, err)
	require.Contains(t, printed, string(summary))
	require.Contains(t, string(summary), "rk_live_abc_def")
	require.Contains(t, string(summary), "eu       http://127.0.0.1:4001/trust\n    public key cHVibGlj\n")

	file := filepath.Join(dir, "stack.json")
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"kubeconfig": "`+s.Kubeconfig+`",
		"apps": [{"region": "eu", "url": "http://127.0.0.1:4001", "metrics_url": "http://127.0.0.1:4002",
			"trust_url": "http://127.0.0.1:4001/trust", "trust_public_key": "cHVibGlj"}],
		"organizations": [{"name": "acme", "region": "eu", "api_key": "rk_live_abc_def"}],
		"webhooks": [{"name": "acme-stripe", "organization": "acme", "provider": "stripe",
			"url": "http://127.0.0.1:4001/webhooks/stripe/0b6c", "signing_secret": "whsec_x"}]
	}`, string(got))
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "stack.json holds API keys and signing secrets")
}

// TestFirstStepsPrintsTheCommands checks that the printed first-click
// commands are FirstClickCommands', in order, the click followed by a pause
// for the app to store it.
func TestFirstStepsPrintsTheCommands(t *testing.T) {
	t.Parallel()
	st := &Starter{Org: Org{Name: "acme", Region: "eu", APIKey: "rk_live_abc_def"}, AppURL: "http://127.0.0.1:4001",
		LinkCode: "launch", LinkURL: "http://127.0.0.1:4001/r/launch", Currency: "EUR", AffiliateMail: "partner@example.com"}
	var out bytes.Buffer
	firstSteps(&out, &Stack{Starter: st})

	cmds := FirstClickCommands(st)
	require.Contains(t, out.String(), "  export REKOMI_URL=http://127.0.0.1:4001 REKOMI_KEY=rk_live_abc_def\n"+
		"  "+cmds.Click+"; sleep 1\n  "+cmds.Sale+"\n  "+cmds.Commissions+"\n")
	require.Contains(t, cmds.Click, "$REKOMI_URL/r/launch")
	require.Contains(t, cmds.Sale, `"currency":"EUR"`)
}
