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
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/e2e/flow"
)

// calls uses the merchant API while a disruption runs: it reads the
// campaigns ten times a second and creates one every second, each with its
// own Idempotency-Key, and keeps what was answered otherwise than it would
// be without the disruption.
type calls struct {
	reads, created atomic.Int64
	failures       failures
	stop           chan struct{}
	done           sync.WaitGroup
}

// campaignPrefix names the campaigns calls creates.
const campaignPrefix = "Created during the upgrade "

func startCalls(m flow.Merchant) *calls {
	c := &calls{stop: make(chan struct{})}
	paced(&c.done, c.stop, 100*time.Millisecond, func(i int) {
		if i%10 == 0 {
			c.call(m, http.MethodPost, "/v1/campaigns", fmt.Sprintf(`{"name":"%s%d","currency":"EUR","commission":{"type":"percentage","percent_bps":1000},"hold_days":30}`, campaignPrefix, i), http.StatusCreated, &c.created)
		} else {
			c.call(m, http.MethodGet, "/v1/campaigns?limit=10", "", http.StatusOK, &c.reads)
		}
	})
	return c
}

func (c *calls) call(m flow.Merchant, method, path, body string, want int, answered *atomic.Int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.Base+path, reader)
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+m.Key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("upgrade-%d", time.Now().UnixNano()))
		}
		var resp *http.Response
		if resp, err = m.Client.Do(req); err == nil {
			problem, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				answered.Add(1)
				return
			}
			err = fmt.Errorf("answered %s: %s", resp.Status, problem)
		}
	}
	c.failures.add(method+" "+path+": ", err)
}

// end stops the calls and returns how many reads and creations were
// answered, how many calls failed, and some of the failures.
func (c *calls) end() (int64, int64, int, []string) {
	close(c.stop)
	c.done.Wait()
	_, failed, some := c.failures.counts()
	return c.reads.Load(), c.created.Load(), failed, some
}

// upgradeServing upgrades while the merchant API is used: no call fails,
// every campaign created is stored, and the audit chain, written by both
// releases in turn, still verifies.
func (e *env) upgradeServing(t *testing.T, org flow.Tenant) {
	t.Helper()
	api := startCalls(org.API)
	e.upgrade(t)
	reads, created, failed, some := api.end()
	fmt.Printf("%s: %d API reads and %d creations answered, %d failed\n", t.Name(), reads, created, failed)
	require.Zero(t, failed, "API calls failed during the upgrade, such as: %s", strings.Join(some, "; "))
	require.Positive(t, created)
	var stored int64
	e.withDatabase(t, org.Region, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT count(*) FROM campaigns WHERE org_id = $1 AND starts_with(name, $2)", org.ID, campaignPrefix).Scan(&stored)
	})
	require.Equal(t, created, stored, "every campaign created during the upgrade is stored, once")
	var v struct {
		OK bool `json:"ok"`
	}
	org.API.Do(t, http.MethodGet, "/v1/audit-log/verify", "", http.StatusOK, &v)
	require.True(t, v.OK, "the audit chain written across the upgrade verifies")
}

// upgrade applies config/default again with the newer image, as a
// platform team upgrades (`make deploy IMG=...`). The new manager
// migrates each Region's schema before it sets the new image on the
// Region's app, whose old pods serve until new ones are ready; the new
// pods start once, and the Region reports the new schema with the table
// it added verified.
func (e *env) upgrade(t *testing.T) {
	t.Helper()
	regions := []string{"us", "eu"}
	version, tables := map[string]int{}, map[string]int{}
	for _, region := range regions {
		version[region] = e.statusInt(t, region, ".status.schemaVersion")
		tables[region] = e.statusInt(t, region, ".status.tenantTables")
		require.Equal(t, version[region], e.schemaVersion(t, region))
	}
	e.apply(t, e.next)
	for _, region := range regions {
		namespace, deployment := "rekomi-"+region, "deployment/"+region+"-app"
		waitFor(t, 3*time.Minute, func() bool {
			if e.kubectl.Get(t, namespace, deployment, ".spec.template.spec.containers[0].image") != e.next {
				return false
			}
			require.Greater(t, e.schemaVersion(t, region), version[region], "region %s's app was given the new image before its schema was migrated", region)
			return true
		}, "the new manager sets the new image on region "+region+"'s app")
		e.kubectl.Run(t, "", "-n", namespace, "rollout", "status", deployment, "--timeout=3m")
		// An old pod ends its preStop pause after the rollout is done.
		waitFor(t, time.Minute, func() bool {
			images := e.appPods(t, region, ".spec.containers[0].image")
			return len(images) == 2 && images[0] == e.next && images[1] == e.next
		}, "only new pods run region "+region+"'s app")
		require.Equal(t, []string{"0", "0"}, e.appPods(t, region, ".status.containerStatuses[0].restartCount"),
			"the new pods started once: none found the schema older than itself")
	}
	e.kubectl.Run(t, "", "-n", "rekomi-system", "rollout", "status", "deployment/rekomi-manager", "--timeout=3m")
	for _, region := range regions {
		e.kubectl.Run(t, "", "wait", "--for=condition=Ready", "region/"+region, "--timeout=2m")
		require.Equal(t, version[region]+1, e.schemaVersion(t, region))
		require.Equal(t, version[region]+1, e.statusInt(t, region, ".status.schemaVersion"))
		require.Equal(t, tables[region]+1, e.statusInt(t, region, ".status.tenantTables"), "the table the migration added is verified")
	}
}

// statusInt is an integer field of a Region.
func (e *env) statusInt(t *testing.T, region, field string) int {
	t.Helper()
	n, err := strconv.Atoi(e.kubectl.Get(t, "", "region/"+region, field))
	require.NoError(t, err, "region %s %s", region, field)
	return n
}

// schemaVersion is the version of region's schema, as golang-migrate
// recorded it.
func (e *env) schemaVersion(t *testing.T, region string) int {
	t.Helper()
	var v int
	e.withDatabase(t, region, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT version FROM schema_migrations").Scan(&v)
	})
	return v
}
