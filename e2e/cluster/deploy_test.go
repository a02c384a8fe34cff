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

package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/pgserver"
	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/e2e/flow"
	"github.com/rekomi/rekomi/e2e/node"
)

// TestDeploy installs the operator as the README's "Deploy to a cluster"
// tells a platform team, applies the samples, checks that both Regions
// serve from real pods, and runs a merchant's flow through the EU
// Region's Service: a referral from a link and a click to a paid invoice,
// a replayed delivery and a refund, an audit log whose chain verifies
// against the operator's witness, and none of it visible to the sample
// organization of the same Region.
func TestDeploy(t *testing.T) {
	e := setUp(t)
	e.deploy(t)
	e.applySamples(t)
	for _, region := range []string{"us", "eu"} {
		e.requireServing(t, region)
		e.requireTrustStatement(t, region)
	}

	app := e.app(t, "eu")
	org := flow.AddOrganization(t, e.kubectl, app, "initech", "eu")
	ref := flow.SetUpReferral(t, org)
	visitor := flow.ClickLink(t, org, ref)
	sale := flow.PayAndRefund(t, org, ref, visitor)
	flow.CheckAuditTrail(t, org, ref, sale)
	acme := flow.Merchant{Base: org.AppURL, Key: e.kubectl.SecretValue(t, "rekomi-eu", "acme-admin-api-key", "api-key"), Client: app.Client}
	flow.CheckIsolation(t, acme, org, ref, sale)

	t.Run("AnAppPodDeleted", func(t *testing.T) {
		e.underTraffic(t, app, "eu", ref, nil, func() { e.deleteAppPod(t, "eu") })
	})
	t.Run("TheRuntimePasswordRotated", func(t *testing.T) {
		// An old pod whose pool must open a connection with the old
		// password cannot check isolation, and fences itself until it is
		// replaced.
		e.underTraffic(t, app, "eu", ref, refused, func() { e.rotateRuntimePassword(t, "eu") })
	})
	t.Run("TheLeaderKilledDuringADrift", func(t *testing.T) {
		// While FORCE is off, the app fences itself by design: 503, and
		// not ready, so that the Service refuses too.
		e.underTraffic(t, app, "eu", ref, fenced, func() { e.killLeaderWithDrift(t, "eu") })
	})
	t.Run("TheDatabaseDownFor20s", func(t *testing.T) {
		e.underTraffic(t, app, "eu", ref, nil, func() { e.databaseOutage(t, org, 20*time.Second) })
	})
	t.Run("AnUpgrade", func(t *testing.T) {
		e.underTraffic(t, app, "eu", ref, nil, func() { e.upgradeServing(t, org) })
	})
}

// env is the test's cluster, its PostgreSQL servers and its kubectl.
type env struct {
	root string
	// image is the release deployed first, next the newer one the test
	// upgrades to.
	image, next string
	cluster     *node.Cluster
	kubectl     flow.Kubectl
	// databases are the admin URLs of each Region's server, as pods reach
	// them; servers are the same servers' URLs on this machine.
	databases, servers map[string]string
	// postgres are the servers, by Region, to stop and start again.
	postgres map[string]*postgres
}

// postgres is a Region's PostgreSQL server, its data kept in a directory
// of its own so that it starts again where it stopped, at the same port.
type postgres struct {
	opts pgserver.Options
	srv  *pgserver.Server
}

// startDatabase starts region's server, listening on the node's bridge
// for the pods, and stops it at the end.
func (e *env) startDatabase(t *testing.T, region string) {
	t.Helper()
	// The server runs as the postgres user, who must reach its directory.
	dir, err := os.MkdirTemp("", "rekomi-e2e-pg-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(dir)) })
	pg := &postgres{opts: pgserver.Options{Dir: filepath.Join(dir, region), Listen: []string{node.NodeIP}, Clients: []string{node.PodCIDR}}}
	pg.srv, err = pgserver.Start(context.Background(), pg.opts)
	require.NoError(t, err, "the OS's PostgreSQL binaries are needed: run `make postgres`")
	t.Cleanup(func() {
		if pg.srv != nil {
			require.NoError(t, pg.srv.Stop(context.Background()))
		}
	})
	u, err := url.Parse(pg.srv.URL())
	require.NoError(t, err)
	pg.opts.Port, err = strconv.Atoi(u.Port())
	require.NoError(t, err)
	e.postgres[region] = pg
	e.databases[region], e.servers[region] = onBridge(t, pg.srv.URL()), pg.srv.URL()
}

func setUp(t *testing.T) *env {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	image := node.RequireEnv(t, "REKOMI_IMAGE", "REKOMI_IMAGE names the image in $REKOMI_IMAGES/rekomi.tar, such as rekomi.local/rekomi:test")
	name := image[strings.LastIndex(image, "/")+1:]
	require.True(t, strings.Contains(name, ":") && !strings.HasSuffix(name, ":latest"),
		"REKOMI_IMAGE=%s: a node always pulls an image tagged latest (or untagged), and this one has no registry; tag it, as `make test` does", image)
	next := node.RequireEnv(t, "REKOMI_NEXT_IMAGE", "REKOMI_NEXT_IMAGE names the image in $REKOMI_IMAGES/rekomi-next.tar that `make upgrade-image` writes, such as rekomi.local/rekomi:next")
	opts := node.EnvOptions(t)
	opts.Images = append(opts.Images, filepath.Join(os.Getenv("REKOMI_IMAGES"), "rekomi-next.tar"))
	ctx := context.Background()
	c, err := node.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop()) })
	fmt.Printf("node_ready_warm %.1f s\n", c.Ready.Seconds())
	e := &env{root: root, image: image, next: next, cluster: c, kubectl: flow.Kubectl{Bin: flow.FindKubectl(t), Kubeconfig: c.Kubeconfig}, databases: map[string]string{}, servers: map[string]string{}, postgres: map[string]*postgres{}}
	for _, region := range []string{"us", "eu"} {
		e.startDatabase(t, region)
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.dumpState(t)
		}
	})
	return e
}

// database is the superuser's URL of a database of region's server, from
// this machine.
func (e *env) database(t *testing.T, region, name string) string {
	t.Helper()
	u, err := url.Parse(e.servers[region])
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// onBridge is a server's admin URL at the node's address, where pods
// reach it.
func onBridge(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	u.Host = net.JoinHostPort(node.NodeIP, u.Port())
	return u.String()
}

// deploy runs what `make deploy IMG=...` runs (without regenerating the
// manifests, which `make test` did) and waits for the manager.
func (e *env) deploy(t *testing.T) {
	t.Helper()
	e.apply(t, e.image)
	e.kubectl.Run(t, "", "-n", "rekomi-system", "rollout", "status", "deployment/rekomi-manager", "--timeout=3m")
	sa := e.kubectl.Get(t, "rekomi-system", "deployment/rekomi-manager", ".spec.template.spec.serviceAccountName")
	require.Equal(t, "rekomi-manager", sa, "the manager runs with its own ServiceAccount")
}

// apply renders config/default with image and applies it, as `make deploy
// IMG=image` does.
func (e *env) apply(t *testing.T, image string) {
	t.Helper()
	cmd := exec.Command("bash", "-c", "hack/render.sh config/default \"$IMG\" | kubectl apply --server-side -f -")
	cmd.Dir = e.root
	cmd.Env = append(os.Environ(), "IMG="+image, "KUBECONFIG="+e.kubectl.Kubeconfig,
		"PATH="+filepath.Dir(e.kubectl.Bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "make deploy: %s", out)
}

// applySamples creates each Region's admin Secret, as the samples'
// comments say, and applies the samples.
func (e *env) applySamples(t *testing.T) {
	t.Helper()
	for _, region := range []string{"us", "eu"} {
		e.kubectl.Run(t, "", "-n", "rekomi-system", "create", "secret", "generic", "postgres-admin-"+region, "--from-literal=url="+e.databases[region])
	}
	e.kubectl.Run(t, "", "-n", "rekomi-system", "label", "secret", "postgres-admin-us", "postgres-admin-eu", "rekomi.io/watch=true")
	e.kubectl.Run(t, "", "apply", "-f", filepath.Join(e.root, "config", "samples"))
	e.kubectl.Run(t, "", "wait", "--for=condition=Ready", "region/us", "region/eu", "--timeout=5m")
	e.kubectl.Run(t, "", "wait", "--for=condition=Ready", "organization/acme", "organization/globex", "--timeout=3m")
}

// requireServing checks that the Region's app is available from its
// Deployment's real status and answers through its Service.
func (e *env) requireServing(t *testing.T, region string) {
	t.Helper()
	namespace := e.kubectl.Get(t, "", "region/"+region, ".spec.namespace")
	available := e.kubectl.Get(t, "", "region/"+region, `.status.conditions[?(@.type=="AppAvailable")].status`)
	require.Equal(t, "True", available)
	replicas := e.kubectl.Get(t, namespace, "deployment/"+region+"-app", ".status.readyReplicas")
	require.Equal(t, "2", replicas, "both app pods are ready")
	ip := e.kubectl.Get(t, namespace, "service/"+region+"-app", ".spec.clusterIP")
	port := e.kubectl.Get(t, namespace, "service/"+region+"-app", ".spec.ports[0].port")
	base := "http://" + net.JoinHostPort(ip, port)
	// kube-proxy programs the Service's rules once it sees the ready
	// endpoints, a moment after the Deployment reports them.
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode, "the app answers through its Service")
			return
		}
		require.True(t, time.Now().Before(deadline), "the Service %s does not answer a minute after its pods are ready: %v", base, err)
		time.Sleep(100 * time.Millisecond)
	}
}

// requireTrustStatement fetches region's /trust.json through its Service
// and checks it as a customer would: signed by the key the Region's status
// publishes, stating this Region, and its isolation verified by the pods'
// own database session.
func (e *env) requireTrustStatement(t *testing.T, region string) {
	t.Helper()
	key, err := trust.ParsePublicKey(e.kubectl.Get(t, "", "region/"+region, ".status.trustPublicKey"))
	require.NoError(t, err, "region %s publishes its trust key", region)
	base := e.kubectl.Get(t, "", "region/"+region, ".spec.app.publicBaseURL")
	client := e.regionClient(t, region)
	var st trust.Statement
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(base + "/trust.json")
		require.NoError(t, err)
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, errors.Join(err, resp.Body.Close()))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
		raw, err := trust.Verify(data, key)
		require.NoError(t, err, "region %s signs /trust.json with the key its status publishes", region)
		require.NoError(t, json.Unmarshal(raw, &st))
		if st.IsolationCheck.Outcome == trust.CheckVerified {
			break
		}
		require.True(t, time.Now().Before(deadline), "region %s states no verified isolation check: %+v", region, st.IsolationCheck)
		time.Sleep(time.Second) // the pod's next check, every 5 s
	}
	require.Equal(t, region, st.Region)
	require.Equal(t, e.kubectl.Get(t, "", "region/"+region, ".spec.location"), st.Location)
	require.NotNil(t, st.Database, st.DatabaseError)
	require.True(t, st.Database.RuntimeRole.Holds, "%+v", st.Database.RuntimeRole)
	require.True(t, st.Database.TenantTables.Holds, "%v", st.Database.TenantTables.Findings)
	require.True(t, st.Database.AuditLog.Holds)
	require.NotNil(t, st.AtRest.NewestKeyCreatedAt, "the operator's key ring records when its key was made")
}

// dumpState logs what a failing test needs to see: the objects, the pods'
// logs and the components' logs.
func (e *env) dumpState(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"get", "regions,organizations,nodes", "-o", "wide"},
		{"get", "pods,deployments,services", "-A", "-o", "wide"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		{"describe", "regions"},
		{"-n", "rekomi-system", "logs", "deployment/rekomi-manager", "--tail=20"},
		{"-n", "rekomi-us", "logs", "-l", "app.kubernetes.io/name=rekomi-app", "--tail=20", "--prefix"},
		{"-n", "rekomi-eu", "logs", "-l", "app.kubernetes.io/name=rekomi-app", "--tail=200", "--prefix"},
	} {
		out, err := e.kubectl.Output(context.Background(), "", args...)
		if err != nil {
			out += err.Error()
		}
		t.Logf("kubectl %s:\n%s", strings.Join(args, " "), out)
	}
	for _, component := range []string{"kubelet", "kube-controller-manager"} {
		t.Logf("%s:\n%s", component, e.cluster.Log(component, 30))
	}
}
