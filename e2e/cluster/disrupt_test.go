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
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/pgserver"
	"github.com/rekomi/rekomi/e2e/flow"
)

// traffic follows a referral link without a cookie, over and over from a
// few workers, as new visitors would, and counts what the app answered.
type traffic struct {
	answered atomic.Int64
	failures failures
	stop     chan struct{}
	done     sync.WaitGroup
}

func startTraffic(client *http.Client, link string, workers int, tolerate func(error) bool) *traffic {
	tr := &traffic{stop: make(chan struct{}), failures: failures{tolerate: tolerate}}
	for range workers {
		// At most 200 a second each: a 20 s outage leaves the replicas
		// holding far fewer clicks than they may keep.
		paced(&tr.done, tr.stop, 5*time.Millisecond, func(int) { tr.follow(client, link) })
	}
	return tr
}

func (tr *traffic) follow(client *http.Client, link string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusFound {
				tr.answered.Add(1)
				return
			}
			err = fmt.Errorf("answered %s", resp.Status)
		}
	}
	tr.failures.add("", err)
}

// paced calls do, with the call's number from 1, every period from a
// goroutine of its own until stop is closed; done waits for it.
func paced(done *sync.WaitGroup, stop <-chan struct{}, period time.Duration, do func(i int)) {
	done.Add(1)
	go func() {
		defer done.Done()
		pace := time.NewTicker(period)
		defer pace.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-pace.C:
			}
			do(i)
		}
	}()
}

// failures counts the requests that failed and keeps the first few to
// show, with their time; those tolerate (when set) accepts, failures a
// disruption may cause, are counted apart.
type failures struct {
	mu              sync.Mutex
	tolerate        func(error) bool
	tolerated, rest int
	some            []string
}

// add counts err, a failure of the request what names.
func (f *failures) add(what string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tolerate != nil && f.tolerate(err) {
		f.tolerated++
		return
	}
	f.rest++
	if len(f.some) < 5 {
		f.some = append(f.some, time.Now().Format("15:04:05.000")+" "+what+err.Error())
	}
}

// counts returns how many failures were tolerated, how many were not and
// the first few of those.
func (f *failures) counts() (tolerated, rest int, some []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tolerated, f.rest, f.some
}

// refused is a failure the app answered itself, with 503.
func refused(err error) bool {
	return strings.HasSuffix(err.Error(), "answered 503 Service Unavailable")
}

// fenced is a failure of a fenced app: its own 503, or the Service's
// refusal once every replica reports not ready.
func fenced(err error) bool {
	return refused(err) || strings.HasSuffix(err.Error(), "connect: connection refused") ||
		strings.HasSuffix(err.Error(), "connect: no route to host")
}

// end stops the traffic and returns how many redirects were answered, how
// many failed as tolerated and the other failures.
func (tr *traffic) end() (int64, int, int, []string) {
	close(tr.stop)
	tr.done.Wait()
	tolerated, rest, some := tr.failures.counts()
	return tr.answered.Load(), tolerated, rest, some
}

// clicks counts the clicks stored for a link.
func (e *env) clicks(t *testing.T, region, linkID string) int64 {
	t.Helper()
	var n int64
	e.withDatabase(t, region, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT count(*) FROM clicks WHERE link_id = $1", linkID).Scan(&n)
	})
	return n
}

// withDatabase runs do on a connection to region's database as its
// superuser, from this machine.
func (e *env) withDatabase(t *testing.T, region string, do func(context.Context, *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.database(t, region, "rekomi"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, do(ctx, conn))
}

// underTraffic runs disrupt while new visitors follow the link, then
// requires that none of them failed but as tolerate allows (nil: none)
// and that every answered redirect is stored as a click.
func (e *env) underTraffic(t *testing.T, app flow.App, region string, ref flow.Referral, tolerate func(error) bool, disrupt func()) {
	t.Helper()
	before := e.warmLinkCaches(t, region, ref)
	e.followAppLogs(t, region)
	tr := startTraffic(app.Client, ref.LinkURL, 4, tolerate)
	waitFor(t, 30*time.Second, func() bool { return tr.answered.Load() >= 20 }, "the link answers before the disruption")
	disrupt()
	answered, tolerated, failed, some := tr.end()
	fmt.Printf("%s: %d redirects answered, %d refused as tolerated, %d failed otherwise\n", t.Name(), answered, tolerated, failed)
	require.Zero(t, failed, "requests failed during the disruption, such as: %s", strings.Join(some, "; "))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		stored := e.clicks(t, region, ref.LinkID) - before
		if stored == answered {
			return
		}
		require.LessOrEqual(t, stored, answered, "no click is stored twice")
		require.True(t, time.Now().Before(deadline), "%d of %d answered redirects stored after 2 minutes", stored, answered)
		time.Sleep(200 * time.Millisecond)
	}
}

// warmLinkCaches follows the link once on each of region's replicas, so
// that each knows it (a replica answers a link it never read only from the
// database), waits until those clicks are stored and returns the number
// of the link's clicks then.
func (e *env) warmLinkCaches(t *testing.T, region string, ref flow.Referral) int64 {
	t.Helper()
	before := e.clicks(t, region, ref.LinkID)
	link, err := url.Parse(ref.LinkURL)
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ips := e.appPods(t, region, ".status.podIP")
	for _, ip := range ips {
		req, err := http.NewRequest(http.MethodGet, "http://"+ip+":8080"+link.Path, nil)
		require.NoError(t, err)
		req.Host = link.Host
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusFound, resp.StatusCode, "the replica at %s follows the link", ip)
	}
	want := before + int64(len(ips))
	waitFor(t, time.Minute, func() bool { return e.clicks(t, region, ref.LinkID) == want }, "the replicas store the clicks of the warm-up")
	return want
}

// appPods is a field (a JSONPath such as .metadata.name) of each of
// region's running app pods.
func (e *env) appPods(t testing.TB, region, field string) []string {
	t.Helper()
	out := e.kubectl.Run(t, "", "-n", "rekomi-"+region, "get", "pods", "-l", "app.kubernetes.io/name=rekomi-app,rekomi.io/region="+region,
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[*]"+field+"}")
	return strings.Fields(out)
}

// deleteAppPod deletes one app pod, waiting for it to end gracefully, and
// for its Deployment to be whole again.
func (e *env) deleteAppPod(t *testing.T, region string) {
	t.Helper()
	pods := e.appPods(t, region, ".metadata.name")
	require.NotEmpty(t, pods)
	e.kubectl.Run(t, "", "-n", "rekomi-"+region, "delete", "pod", pods[0], "--wait=true")
	e.kubectl.Run(t, "", "-n", "rekomi-"+region, "rollout", "status", "deployment/"+region+"-app", "--timeout=3m")
}

// rotateRuntimePassword deletes the runtime role's Secret: the operator
// makes a new password and the app's pods roll onto it.
func (e *env) rotateRuntimePassword(t *testing.T, region string) {
	t.Helper()
	namespace := "rekomi-" + region
	hash := `.spec.template.metadata.annotations.rekomi\.io/database-password-sha256`
	old := e.kubectl.Get(t, namespace, "deployment/"+region+"-app", hash)
	require.NotEmpty(t, old)
	e.kubectl.Run(t, "", "-n", namespace, "delete", "secret", region+"-db-runtime")
	waitFor(t, 2*time.Minute, func() bool { return e.kubectl.Get(t, namespace, "deployment/"+region+"-app", hash) != old },
		"the pod template carries the new password's hash")
	e.kubectl.Run(t, "", "-n", namespace, "rollout", "status", "deployment/"+region+"-app", "--timeout=3m")
}

// killLeaderWithDrift kills the manager pod holding the lease outright
// and, while no manager leads, switches off FORCE ROW LEVEL SECURITY on a
// tenant table as a database owner could: the other manager must take
// the lease and put it back.
func (e *env) killLeaderWithDrift(t *testing.T, region string) {
	t.Helper()
	holder := e.kubectl.Get(t, "rekomi-system", "lease/manager.rekomi.io", ".spec.holderIdentity")
	leader, _, _ := strings.Cut(holder, "_")
	require.NotEmpty(t, leader, "a manager holds the lease")
	e.kubectl.Run(t, "", "-n", "rekomi-system", "delete", "pod", leader, "--grace-period=0", "--force")
	e.withDatabase(t, region, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
		return err
	})
	require.False(t, e.forced(t, region, "campaigns"), "the drift is in place")

	waitFor(t, 3*time.Minute, func() bool { return e.forced(t, region, "campaigns") }, "FORCE ROW LEVEL SECURITY is back on campaigns")
	now := e.kubectl.Get(t, "rekomi-system", "lease/manager.rekomi.io", ".spec.holderIdentity")
	require.NotEqual(t, holder, now, "another manager holds the lease")
	e.kubectl.Run(t, "", "wait", "--for=condition=IsolationVerified", "region/"+region, "--timeout=2m")
	e.kubectl.Run(t, "", "-n", "rekomi-system", "rollout", "status", "deployment/rekomi-manager", "--timeout=3m")
	// The replicas' fences see the repair at their next check.
	waitFor(t, time.Minute, func() bool { return e.replicasReady(t, region) }, "the app serves again after the repair")
}

// forced reports whether table forces row-level security on its owner.
func (e *env) forced(t *testing.T, region, table string) bool {
	t.Helper()
	var forced bool
	e.withDatabase(t, region, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT relforcerowsecurity FROM pg_class WHERE oid = $1::regclass", table).Scan(&forced)
	})
	return forced
}

// databaseOutage stops the Region's PostgreSQL server for d and starts it
// again. Meanwhile the API and webhooks answer 503 with Retry-After, so
// that clients and providers retry, and every replica stays ready: the
// outage is theirs alike.
func (e *env) databaseOutage(t *testing.T, org flow.Tenant, d time.Duration) {
	t.Helper()
	// Every replica is ready first: one whose fence still holds an
	// earlier finding keeps it while the database cannot be asked.
	waitFor(t, time.Minute, func() bool { return e.replicasReady(t, org.Region) }, "the app's replicas are all ready before the outage")
	pg := e.postgres[org.Region]
	require.NoError(t, pg.srv.Stop(context.Background()))
	pg.srv = nil
	restart := time.Now().Add(d)

	var resp *http.Response
	waitFor(t, 15*time.Second, func() bool {
		req, err := http.NewRequest(http.MethodGet, org.AppURL+"/v1/campaigns", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+org.API.Key)
		resp, err = org.API.Client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode == http.StatusServiceUnavailable
	}, "the API answers 503 without its database")
	require.NotEmpty(t, resp.Header.Get("Retry-After"), "clients are told when to retry")
	event := func() []byte {
		return flow.StripeEvent("evt_outage", "customer.created", time.Now().Unix(), map[string]any{"id": "cus_outage", "object": "customer"})
	}
	status, body := org.Stripe.Post(t, event())
	require.Equal(t, http.StatusServiceUnavailable, status, "the provider retries a delivery: %s", body)

	time.Sleep(time.Until(restart)) // the outage lasts d, traffic flowing
	require.True(t, e.replicasReady(t, org.Region), "every replica stays ready through the outage")
	var err error
	pg.srv, err = pgserver.Start(context.Background(), pg.opts)
	require.NoError(t, err, "the server starts again on its data and port")
	waitFor(t, time.Minute, func() bool {
		status, _ := org.API.Call(t, http.MethodGet, "/v1/campaigns", "")
		return status == http.StatusOK
	}, "the API answers once its database is back")
	// The provider retries the delivery refused during the outage until a
	// replica whose fence has seen the database again takes it.
	waitFor(t, time.Minute, func() bool {
		status, body := org.Stripe.Post(t, event())
		require.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, status, "%s", body)
		return status == http.StatusOK
	}, "the delivery is taken once the database is back")
	e.kubectl.Run(t, "", "wait", "--for=condition=Ready", "region/"+org.Region, "--timeout=2m")
}

// replicasReady asks each of region's app pods whether it is ready, as
// its readiness probe does.
func (e *env) replicasReady(t *testing.T, region string) bool {
	t.Helper()
	ips := e.appPods(t, region, ".status.podIP")
	require.NotEmpty(t, ips)
	for _, ip := range ips {
		resp, err := http.Get("http://" + ip + ":8080/readyz")
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		if resp.StatusCode != http.StatusOK {
			t.Logf("the replica at %s answers /readyz %d", ip, resp.StatusCode)
			return false
		}
	}
	return true
}

// waitFor calls cond every 200 ms until it holds, failing t saying what
// it waited for once timeout has passed.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "not within %s: %s", timeout, what)
		time.Sleep(200 * time.Millisecond)
	}
}

// followAppLogs keeps what region's app pods log from now until t ends,
// and shows the warnings, errors and refusals when t failed: the pods a
// disruption replaces are gone by then, and their logs with them.
func (e *env) followAppLogs(t *testing.T, region string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := e.kubectl.Command(ctx, "-n", "rekomi-"+region, "logs", "--follow", "--prefix", "--tail=0",
		"--max-log-requests=10", "-l", "app.kubernetes.io/name=rekomi-app,rekomi.io/region="+region)
	// One writer for both streams: exec calls it from one goroutine at a
	// time, and it is read once Wait has returned.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if !t.Failed() {
			return
		}
		var shown []string
		for line := range strings.Lines(out.String()) {
			if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"status":503`) {
				shown = append(shown, line)
			}
		}
		t.Logf("the app pods' warnings, errors and 503s during the step (%d lines):\n%s", len(shown), strings.Join(shown[:min(len(shown), 60)], ""))
	})
}
