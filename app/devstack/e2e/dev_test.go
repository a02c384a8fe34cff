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

package e2e_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/e2e/flow"
)

// TestDevProcess runs `rekomi dev` as its own process and, through kubectl
// and HTTP only, adds an organization and its Stripe endpoint, follows one
// referral from a link and a click to a paid invoice, a replayed delivery
// and a refund, finds one commission earned and reversed, every step in an
// audit log whose chain verifies, and none of it visible to a sample
// organization of the same Region. Then Ctrl-C (SIGINT) must stop it with
// status 0, leaving no process running and no socket listening; started
// again, it finds that data, and killed (SIGKILL), it leaves nothing either.
func TestDevProcess(t *testing.T) {
	kubectlBin := flow.FindKubectl(t)
	dev := startDev(t, stateDir(t))
	stack := dev.stack(t)
	k := flow.Kubectl{Bin: kubectlBin, Kubeconfig: stack.Kubeconfig}
	listened := checkListeners(t, dev, stack, k)

	region := stack.Organizations[0].Region
	app := devApp(t, stack, region)
	org := flow.AddOrganization(t, k, app, "initech", region)
	require.Equal(t, org.AppURL, appURL(t, stack, org.Region), "the Region's public URL is its app's")
	ref := flow.SetUpReferral(t, org)
	visitor := flow.ClickLink(t, org, ref)
	sale := flow.PayAndRefund(t, org, ref, visitor)
	flow.CheckAuditTrail(t, org, ref, sale)
	flow.CheckIsolation(t, sampleOrganization(t, stack, org.Region, app.Client), org, ref, sale)
	flow.UnbindAndBind(t, k, org)

	dev.interrupt(t)
	dev.requireNothingLeft(t, listened)
	restartAndKill(t, dev.dir, kubectlBin, org, ref)
}

// restartAndKill starts rekomi dev again on dir, where it must find the
// organization and the link added before, then kills it outright
// (SIGKILL), as a crash would: the servers it started must end with it all
// the same. The app keeps its address unless another program took the
// port meanwhile, so the test reads it again from stack.json.
func restartAndKill(t *testing.T, dir, kubectlBin string, org flow.Tenant, ref flow.Referral) {
	t.Helper()
	dev := startDev(t, dir)
	stack := dev.stack(t)
	k := flow.Kubectl{Bin: kubectlBin, Kubeconfig: stack.Kubeconfig}
	listened := checkListeners(t, dev, stack, k)
	k.Run(t, "", "wait", "--for=condition=Ready", "organization/"+org.Name, "--timeout=2m")
	api := org.API
	api.Base = appURL(t, stack, org.Region)
	if api.Base != org.API.Base {
		t.Logf("the app of region %s moved from %s to %s: its port was taken", org.Region, org.API.Base, api.Base)
	}
	var link flow.Object
	api.Do(t, http.MethodGet, "/v1/links/"+ref.LinkID, "", http.StatusOK, &link)
	require.Equal(t, ref.Code, link.Code, "the link kept in the state directory")

	dev.killLeader(t)
	dev.requireNothingLeft(t, listened)
}

// checkListeners finds what the stack listens on while it runs: each app,
// the API server of the kubeconfig and one PostgreSQL server per Region
// must be among them (a server is counted once, whatever its backends
// hold). It returns every listening socket.
func checkListeners(t *testing.T, dev *devProcess, stack stackFile, k flow.Kubectl) []listener {
	t.Helper()
	procs, err := stackProcs(dev.cmd.Process.Pid)
	require.NoError(t, err)
	procs, err = withListeners(procs)
	require.NoError(t, err)
	var all []string
	var sockets []listener
	for _, p := range procs {
		t.Logf("%s listens on %v", p, p.listenAddr)
		all = append(all, p.listenAddr...)
		sockets = append(sockets, p.sockets...)
	}
	servers := postmasters(procs)
	for _, p := range servers {
		require.NotEmpty(t, p.listenAddr, "PostgreSQL server %s listens", p)
	}
	for _, a := range stack.Apps {
		u, err := url.Parse(a.URL)
		require.NoError(t, err)
		require.Contains(t, all, u.Host, "the app of region %s is served by the stack", a.Region)
	}
	server, err := url.Parse(k.Run(t, "", "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	require.NoError(t, err)
	require.Contains(t, all, server.Host, "the API server of the kubeconfig is the stack's")
	require.Len(t, servers, len(stack.Apps), "one PostgreSQL server per Region")
	return sockets
}

// sampleOrganization is the merchant API of a sample organization of
// region, with its key from stack.json, reached through client.
func sampleOrganization(t *testing.T, stack stackFile, region string, client *http.Client) flow.Merchant {
	t.Helper()
	for _, o := range stack.Organizations {
		if o.Region != region {
			continue
		}
		return flow.Merchant{Base: appURL(t, stack, region), Key: o.APIKey, Client: client}
	}
	t.Fatalf("stack.json lists no organization of region %s", region)
	return flow.Merchant{}
}

// devApp is how the flow reaches region's app: its public URL is the
// address it listens on, reached directly, and its one process serves its
// metrics on a port of its own, from stack.json.
func devApp(t *testing.T, stack stackFile, region string) flow.App {
	t.Helper()
	return flow.App{Client: &http.Client{}, Metric: flow.MetricsAt(appOf(t, stack, region).MetricsURL + "/metrics")}
}

// appURL is the URL of region's app, from stack.json.
func appURL(t *testing.T, stack stackFile, region string) string {
	t.Helper()
	return appOf(t, stack, region).URL
}

// appOf is region's app, from stack.json.
func appOf(t *testing.T, stack stackFile, region string) stackApp {
	t.Helper()
	for _, a := range stack.Apps {
		if a.Region == region {
			return a
		}
	}
	t.Fatalf("stack.json lists no app of region %s", region)
	return stackApp{}
}
