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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/devstack"
	"github.com/rekomi/rekomi/app/trust"
)

// TestDev starts the whole dev stack in this process, uses it through its
// kubeconfig and its apps' HTTP APIs as a newcomer would, stops it, starts
// it again on the same directory and finds the same data, then checks that
// nothing it started still answers.
func TestDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	// As root PostgreSQL runs as the postgres user, who must reach its data.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755))

	first, printed := runDev(t, dir, func(ctx context.Context, s *devstack.Stack) { checkDevStack(ctx, t, s) })
	require.Contains(t, printed, "ready in ")
	require.Contains(t, printed, "export KUBECONFIG="+first.Kubeconfig)
	summary, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	require.NoError(t, err)
	for _, a := range first.Apps {
		require.Contains(t, printed, a.TrustURL, "make dev prints each Region's /trust page")
	}
	for _, h := range first.Webhooks {
		if h.Provider == "paddle" || h.Provider == "shopify" || h.Provider == "braintree" {
			require.Contains(t, printed, devstack.SignedDelivery(h, first.Starter.LinkCode, first.Starter.Currency),
				"make dev prints the signed delivery of %s", h.Name)
		}
	}
	for _, o := range first.Orgs {
		require.Contains(t, printed, o.APIKey)
		require.Contains(t, string(summary), o.APIKey)
	}
	require.True(t, strings.HasSuffix(printed, "stopped\n"), printed)

	// The second start, with the demo, keeps the first one's data and adds
	// the commission of the demo's paid invoice.
	second, _ := runDev(t, dir, func(ctx context.Context, s *devstack.Stack) {
		require.Equal(t, first.Starter.AffiliateID, s.Starter.AffiliateID, "the starter objects are kept")
		got := commissions(ctx, t, s.Starter)
		require.Len(t, got, 5, "the commissions of the first start are kept and the demo adds one: %v", got)
		amounts := make([]int64, len(got))
		for i, c := range got {
			amounts[i] = c.Amount
		}
		require.ElementsMatch(t, []int64{2000, 2000, 2000, 2000, 980}, amounts,
			"20%% of the first click's sale, of the three signed deliveries' and of the demo's 49.00 EUR invoice")
		for _, c := range got {
			require.Equal(t, s.Starter.AffiliateID, c.AffiliateID)
		}
	}, withDemo)
	require.Equal(t, first.Orgs, second.Orgs, "organizations and their keys are kept")

	// Stopped: no app answers and the API server is gone.
	for _, a := range second.Apps {
		_, err := http.Get(a.URL + "/healthz")
		require.Error(t, err, "app of %s still answers", a.Region)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", second.Kubeconfig)
	require.NoError(t, err)
	cfg.Timeout = 2 * time.Second
	c, err := client.New(cfg, client.Options{Scheme: second.Client.Scheme()})
	require.NoError(t, err)
	require.Error(t, c.List(context.Background(), &rekomiv1.RegionList{}), "the API server still answers")
}

func withDemo(o *devstack.Options) { o.Demo = true }

const (
	// devRunTimeout bounds one run of the stack: its start, about 10 s on
	// an idle machine and minutes beside the rest of `make test`, and the
	// checks on it.
	devRunTimeout = 5 * time.Minute
	// devStopMargin is kept before the test's deadline for the stack to
	// stop, each of its servers within 30 s, when a run takes too long.
	devStopMargin = time.Minute
)

// runDev runs the dev stack on dir until check, called once it is ready,
// returns; it returns the stack and what it printed. The run ends after
// devRunTimeout, or earlier when the test's deadline is nearer, so that
// the stack is stopped before the test binary is.
func runDev(t *testing.T, dir string, check func(ctx context.Context, s *devstack.Stack), with ...func(*devstack.Options)) (*devstack.Stack, string) {
	deadline := time.Now().Add(devRunTimeout)
	if end, ok := t.Deadline(); ok && end.Add(-devStopMargin).Before(deadline) {
		deadline = end.Add(-devStopMargin)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var out bytes.Buffer
	opts := devOptions(dir, &out)
	for _, f := range with {
		f(&opts)
	}
	var seen *devstack.Stack
	opts.OnReady = func(ctx context.Context, s *devstack.Stack) error {
		seen = s
		check(ctx, s)
		return nil
	}
	require.NoError(t, devstack.Run(ctx, opts), out.String())
	require.NotNil(t, seen, "the stack never became ready: %s", out.String())
	return seen, out.String()
}

func checkDevStack(ctx context.Context, t *testing.T, s *devstack.Stack) {
	// The written kubeconfig sees every sample Region Ready.
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: s.Client.Scheme()})
	require.NoError(t, err)
	regions := &rekomiv1.RegionList{}
	require.NoError(t, c.List(ctx, regions))
	require.Len(t, regions.Items, 2)
	require.Len(t, s.Apps, 2)
	require.Len(t, s.Orgs, 2)
	require.NotEmpty(t, s.Webhooks)

	for _, a := range s.Apps {
		resp, err := http.Get(a.URL + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, a.Region)
	}
	checkTrust(ctx, t, s, regions.Items)
	providers := map[string]bool{}
	for _, h := range s.Webhooks {
		require.True(t, strings.HasPrefix(h.URL, "http://127.0.0.1:"), "webhook %s is served locally: %s", h.Name, h.URL)
		require.True(t, strings.HasPrefix(h.URL, "http://127.0.0.1:") && strings.Contains(h.URL, "/webhooks/"+h.Provider+"/"), h.Name)
		require.NotEmpty(t, h.Secret, h.Name)
		providers[h.Provider] = true
	}
	require.Equal(t, map[string]bool{"stripe": true, "clerk": true, "paddle": true, "shopify": true, "braintree": true}, providers,
		"the samples have an endpoint of each provider")
	checkFirstClick(ctx, t, s)
	checkSignedDeliveries(ctx, t, s)
	// Each organization's key works on its Region's app.
	for _, o := range s.Orgs {
		app := ""
		for _, a := range s.Apps {
			if a.Region == o.Region {
				app = a.URL
			}
		}
		body := `{"name":"Checked","currency":"EUR","commission":{"type":"percentage","percent_bps":2000},"hold_days":0}`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, app+"/v1/campaigns", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var got map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s: %v", o.Name, got)
		checkWitnessed(ctx, t, app, o)
	}
}

// checkTrust checks each Region's /trust.json against the public key in
// the Region's status, as a customer who archived it would, and that the
// page is the one printed.
func checkTrust(ctx context.Context, t *testing.T, s *devstack.Stack, regions []rekomiv1.Region) {
	t.Helper()
	for _, a := range s.Apps {
		var published string
		for _, r := range regions {
			if r.Name == a.Region {
				published = r.Status.TrustPublicKey
			}
		}
		require.NotEmpty(t, published, "region %s publishes its trust key", a.Region)
		require.Equal(t, published, a.TrustPublicKey, "the printed key is the Region's")
		require.Equal(t, a.URL+"/trust", a.TrustURL)
		key, err := trust.ParsePublicKey(published)
		require.NoError(t, err)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/trust.json", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, a.Region)
		raw, err := trust.Verify(data, key)
		require.NoError(t, err, "region %s signs with the key its status publishes", a.Region)
		var st trust.Statement
		require.NoError(t, json.Unmarshal(raw, &st))
		require.Equal(t, a.Region, st.Region)
		require.NotNil(t, st.Database, "%s: %s", a.Region, st.DatabaseError)
		require.True(t, st.Database.TenantTables.Holds, a.Region)
		require.True(t, st.Database.RuntimeRole.Holds, a.Region)
	}
}

// checkWitnessed waits until the organization's audit log verifies against
// the operator's witness, which reaches the in-process app through the
// stack's mirror of its Region's ConfigMaps.
func checkWitnessed(ctx context.Context, t *testing.T, app string, o devstack.Org) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, app+"/v1/audit-log/verify", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var v struct {
			OK      bool `json:"ok"`
			Witness struct {
				State string `json:"state"`
				Seq   int64  `json:"seq"`
			} `json:"witness"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		if v.Witness.State == "agrees" {
			require.True(t, v.OK, "%s: %+v", o.Name, v)
			require.Positive(t, v.Witness.Seq)
			return
		}
		require.Equal(t, "not_witnessed", v.Witness.State, "%s: %+v", o.Name, v)
		require.True(t, time.Now().Before(deadline), "%s: the chain is not checked against its witness after 2 minutes", o.Name)
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the witness of %s: %v", o.Name, context.Cause(ctx))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// checkFirstClick runs the printed first-click commands in a shell, as a
// newcomer pasting them would, and expects a commission of 20% of the sale.
// Instead of the printed pause, it waits until the app has stored the click.
func checkFirstClick(ctx context.Context, t *testing.T, s *devstack.Stack) {
	require.NotNil(t, s.Starter)
	cmds := devstack.FirstClickCommands(s.Starter)
	env := append(os.Environ(), "REKOMI_URL="+s.Starter.AppURL, "REKOMI_KEY="+s.Starter.Org.APIKey)
	metricsURL := s.App(s.Starter.Org.Region).MetricsURL
	stored := clicksStored(ctx, t, metricsURL)
	out := shell(ctx, t, env, cmds.Click)
	require.Regexp(t, `^clicked as visitor [0-9a-f-]{36}$`, out)
	waitClicksStored(ctx, t, metricsURL, stored+1)
	env = append(env, "VISITOR="+strings.TrimPrefix(out, "clicked as visitor "))
	out = shell(ctx, t, env, cmds.Sale)
	require.Contains(t, out, `"affiliate_id":"`+s.Starter.AffiliateID+`"`, "the sale is attributed to the click")
	out = shell(ctx, t, env, cmds.Commissions)
	got := commissions(ctx, t, s.Starter)
	require.Len(t, got, 1, out)
	require.Equal(t, s.Starter.AffiliateID, got[0].AffiliateID)
	require.Equal(t, int64(2000), got[0].Amount, "20%% of 10000")
}

// checkSignedDeliveries runs the printed signed delivery of each Paddle,
// Shopify and Braintree endpoint, as a newcomer would paste it: each must
// be received (200) and earn the starter affiliate a commission on its
// sale of 100.00.
func checkSignedDeliveries(ctx context.Context, t *testing.T, s *devstack.Stack) {
	before := len(commissions(ctx, t, s.Starter))
	sent := 0
	for _, h := range s.Webhooks {
		cmd := devstack.SignedDelivery(h, s.Starter.LinkCode, s.Starter.Currency)
		if h.Provider == "stripe" || h.Provider == "clerk" {
			require.Empty(t, cmd, h.Name)
			continue
		}
		require.NotEmpty(t, cmd, h.Name)
		require.Equal(t, "200", shell(ctx, t, os.Environ(), cmd), "%s: %s", h.Name, cmd)
		sent++
	}
	require.Equal(t, 3, sent)
	got := commissions(ctx, t, s.Starter)
	require.Len(t, got, before+sent, "each signed sale earns a commission")
	for _, c := range got[:sent] { // newest first
		require.Equal(t, s.Starter.AffiliateID, c.AffiliateID)
		require.Equal(t, int64(2000), c.Amount, "20%% of 100.00")
	}
}

// shell runs one command in bash with env and returns its output, which
// must be one line.
func shell(ctx context.Context, t *testing.T, env []string, command string) string {
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", command)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", command, out)
	line := strings.TrimSuffix(string(out), "\n")
	require.NotContains(t, line, "\n", "%s prints one line", command)
	return line
}

// clicksStored reads how many clicks an app has stored since it started,
// from its metrics at metricsURL.
func clicksStored(ctx context.Context, t *testing.T, metricsURL string) float64 {
	n, err := devstack.ClicksStored(ctx, metricsURL)
	require.NoError(t, err)
	return n
}

// waitClicksStored waits until the app whose metrics are at metricsURL has
// stored at least want clicks; it writes them in batches, every 100 ms.
func waitClicksStored(ctx context.Context, t *testing.T, metricsURL string, want float64) {
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got := clicksStored(ctx, t, metricsURL)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app has stored %v clicks after %s, want at least %v: the click was not stored", got, timeout, want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the click to be stored: %v", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

type commission struct {
	AffiliateID string `json:"affiliate_id"`
	Amount      int64  `json:"amount"`
}

// commissions lists the commissions of the starter's organization.
func commissions(ctx context.Context, t *testing.T, st *devstack.Starter) []commission {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.AppURL+"/v1/commissions", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+st.Org.APIKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list struct {
		Data []commission `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	return list.Data
}
