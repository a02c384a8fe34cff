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

package controllers_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers"
)

// TestPurgeLeavesNothingToClaim purges an organization that has a link
// code, an admin API key and a webhook endpoint: its link code and key
// prefix stay taken for ever (another organization that claims them is
// refused by the routing table), its endpoint's route goes with its row,
// and the WebhookEndpoint says so and what was left of its Secret.
func TestPurgeLeavesNothingToClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	id := f.provision(t, org).Status.ID
	seedTenantRows(t, conn, id)
	other := f.provision(t, f.newOrg(t))

	ef := newEndpointReconciler(t)
	ef.region, ef.regionFix = f.region, f.rf
	ef.org, ef.orgID = org, uuid.MustParse(id)
	bindNamespace(t, ef.ns, org.Name)
	ep := ef.store(t, ef.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret}))
	require.NotEmpty(t, ep.Status.URL)

	routes := func(orgID string) map[string]int {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT kind, count(*)::int FROM route_keys WHERE org_id = $1 GROUP BY kind", orgID)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var kind string
			var n int
			require.NoError(t, rows.Scan(&kind, &n))
			out[kind] = n
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Equal(t, map[string]int{"link_code": 1, "api_key_prefix": 1, "webhook_endpoint": 1}, routes(id))

	f.update(t, org, func(o *v1.Organization) {
		o.Annotations = map[string]string{controllers.PurgeNowAnnotation: "true"}
	})
	got, _ := f.reconcile(t, org)
	requireOrgCondition(t, got, v1.ConditionPurged, metav1.ConditionTrue, v1.ReasonPurged)
	require.Equal(t, map[string]int{"link_code": 1, "api_key_prefix": 1}, routes(id),
		"the link code and the key prefix are tombstones; the endpoint's route is gone")
	var tombstoned int
	queryRow(t, conn, "SELECT (metadata->>'tombstoned_route_keys')::int FROM audit_log WHERE org_id = $1 AND action = 'organization.purged'",
		[]any{id}, &tombstoned)
	require.Equal(t, 2, tombstoned)

	for _, kind := range []string{"link_code", "api_key_prefix"} {
		var key string
		queryRow(t, conn, "SELECT key FROM route_keys WHERE org_id = $1 AND kind = $2", []any{id, kind}, &key)
		_, err := conn.Exec(ctx, "INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ($1, $2, $3, $4)",
			kind, key, other.Status.ID, uuid.New())
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr) && pgErr.Code == "23505", "another organization claims the %s: %v", kind, err)
	}

	ep, _, err := ef.reconcile(t, ep)
	require.NoError(t, err)
	c := requireEndpointCondition(t, ep, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonPurged)
	require.Contains(t, c.Message, "its URL answers 401")
	require.Contains(t, c.Message, "Secret "+ep.Namespace+"/"+ep.Spec.SecretRef.Name+", which holds the signing secrets, is not the operator's and is left in place")
	require.Empty(t, ep.Status.URL)
}
