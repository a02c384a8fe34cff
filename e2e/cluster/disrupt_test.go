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
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/e2e/flow"
)

// traffic follows a referral link without a cookie, over and over from a
// few workers, as new visitors would, and counts what the app answered.
type traffic struct {
	answered atomic.Int64
	failures struct {
		sync.Mutex
		n    int
		some []string
		// tolerated counts the failures the disruption may cause.
		tolerated int
	}
	tolerate func(error) bool
	stop     chan struct{}
	done     sync.WaitGroup
}

func startTraffic(client *http.Client, link string, workers int, tolerate func(error) bool) *traffic {
	tr := &traffic{stop: make(chan struct{}), tolerate: tolerate}
	for range workers {
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			for {
				select {
				case <-tr.stop:
					return
				default:
				}
				tr.follow(client, link)
			}
		}()
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
	tr.failures.Lock()
	defer tr.failures.Unlock()
	tr.failures.n++
	if tr.tolerate != nil && tr.tolerate(err) {
		tr.failures.tolerated++
		return
	}
	if len(tr.failures.some) < 5 {
		tr.failures.some = append(tr.failures.some, time.Now().Format("15:04:05.000")+" "+err.Error())
	}
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
	tr.failures.Lock()
	defer tr.failures.Unlock()
	return tr.answered.Load(), tr.failures.tolerated, tr.failures.n - tr.failures.tolerated, tr.failures.some
}

// clicks counts the clicks stored for a link, read as the database's
// superuser from this machine.
func (e *env) clicks(t *testing.T, region, linkID string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.database(t, region, "rekomi"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM clicks WHERE link_id = $1", linkID).Scan(&n))
	return n
}

// underTraffic runs disrupt while new visitors follow the link, then
// requires that none of them failed but as tolerate allows (nil: none)
// and that every answered redirect is stored as a click.
func (e *env) underTraffic(t *testing.T, app flow.App, region string, ref flow.Referral, tolerate func(error) bool, disrupt func()) {
	t.Helper()
	before := e.clicks(t, region, ref.LinkID)
	tr := startTraffic(app.Client, ref.LinkURL, 4, tolerate)
	warm := time.Now().Add(30 * time.Second)
	for tr.answered.Load() < 20 {
		require.True(t, time.Now().Before(warm), "the link answers before the disruption")
		time.Sleep(10 * time.Millisecond)
	}
	disrupt()
	answered, tolerated, failed, some := tr.end()
	fmt.Printf("%s: %d redirects answered, %d refused as tolerated, %d failed otherwise\n", t.Name(), answered, tolerated, failed)
	require.Zero(t, failed, "requests failed during the disruption, such as: %s", strings.Join(some, "; "))
	deadline := time.Now().Add(time.Minute)
	for {
		stored := e.clicks(t, region, ref.LinkID) - before
		if stored == answered {
			return
		}
		require.LessOrEqual(t, stored, answered, "no click is stored twice")
		require.True(t, time.Now().Before(deadline), "%d of %d answered redirects stored after a minute", stored, answered)
		time.Sleep(200 * time.Millisecond)
	}
}

// appPods are the names of region's app pods.
func (e *env) appPods(t *testing.T, region string) []string {
	t.Helper()
	out := e.kubectl.Run(t, "", "-n", "rekomi-"+region, "get", "pods", "-l", "app.kubernetes.io/name=rekomi-app,rekomi.io/region="+region,
		"-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

// deleteAppPod deletes one app pod, waiting for it to end gracefully, and
// for its Deployment to be whole again.
func (e *env) deleteAppPod(t *testing.T, region string) {
	t.Helper()
	pods := e.appPods(t, region)
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
	deadline := time.Now().Add(2 * time.Minute)
	for e.kubectl.Get(t, namespace, "deployment/"+region+"-app", hash) == old {
		require.True(t, time.Now().Before(deadline), "the pod template still carries the old password's hash after 2 minutes")
		time.Sleep(500 * time.Millisecond)
	}
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
	e.execSQL(t, region, "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
	require.False(t, e.forced(t, region, "campaigns"), "the drift is in place")

	deadline := time.Now().Add(3 * time.Minute)
	for !e.forced(t, region, "campaigns") {
		require.True(t, time.Now().Before(deadline), "FORCE ROW LEVEL SECURITY is not back on campaigns 3 minutes after the leader died")
		time.Sleep(500 * time.Millisecond)
	}
	now := e.kubectl.Get(t, "rekomi-system", "lease/manager.rekomi.io", ".spec.holderIdentity")
	require.NotEqual(t, holder, now, "another manager holds the lease")
	e.kubectl.Run(t, "", "wait", "--for=condition=IsolationVerified", "region/"+region, "--timeout=2m")
	e.kubectl.Run(t, "", "-n", "rekomi-system", "rollout", "status", "deployment/rekomi-manager", "--timeout=3m")
}

func (e *env) forced(t *testing.T, region, table string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.database(t, region, "rekomi"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var forced bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT relforcerowsecurity FROM pg_class WHERE oid = $1::regclass", table).Scan(&forced))
	return forced
}

func (e *env) execSQL(t *testing.T, region, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.database(t, region, "rekomi"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	require.NoError(t, err)
}
