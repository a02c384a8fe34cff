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
	"crypto/rand"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers"
)

// TestOrganizationFollowsItsRegionsOwnerCredentials runs the Organization
// controller in a manager and moves the Region's owner credentials, as a
// restarted database server on a new port does: the Organization must
// follow the Secret at once, not when a retry or a resync comes round. A
// Ready Organization is not reconciled again by itself, so only the
// Secret's watch can bring it to the change.
func TestOrganizationFollowsItsRegionsOwnerCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	org := f.newOrg(t)
	// This manager sees this test's Organization alone: the other tests
	// reconcile theirs themselves, and Organizations are cluster-scoped.
	// Secrets as the manager reaches them: the cache holds only the labelled.
	mgr, err := ctrl.NewManager(testEnv.cfg, controllers.LimitSecretAccess(ctrl.Options{
		Scheme:  testEnv.scheme,
		Logger:  logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{f.region.Spec.Namespace: {}},
			ByObject: map[client.Object]cache.ByObject{
				&v1.Organization{}: {Field: fields.OneTermEqualSelector("metadata.name", org.Name)},
			},
		},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}))
	require.NoError(t, err)
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	require.NoError(t, (&controllers.OrganizationReconciler{
		Client: mgr.GetClient(), Recorder: events.NewFakeRecorder(100), DBs: dbs, Clock: f.clock, Rand: rand.Reader,
	}).SetupWithManager(mgr))
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	ready := func(reason v1.ConditionReason) {
		t.Helper()
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			got := &v1.Organization{}
			require.NoError(c, testEnv.client.Get(ctx, client.ObjectKeyFromObject(org), got))
			cond := meta.FindStatusCondition(got.Status.Conditions, string(v1.ConditionReady))
			require.NotNil(c, cond)
			require.Equal(c, string(reason), cond.Reason)
		}, 15*time.Second, 50*time.Millisecond, "Ready with reason %s", reason)
	}
	ready(v1.ReasonReconciled)

	owner := f.rf.secret(t, controllers.OwnerSecretName(f.region.Name))
	good := string(owner.Data["url"])
	moved, err := url.Parse(good)
	require.NoError(t, err)
	moved.Host = closedAddr(t)
	setOwnerURL(t, owner, moved.String())
	ready(v1.ReasonDatabaseUnreachable)

	setOwnerURL(t, owner, good)
	ready(v1.ReasonReconciled)
}

// closedAddr is a localhost address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// setOwnerURL writes u as the owner Secret's URL.
func setOwnerURL(t *testing.T, secret *corev1.Secret, u string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(secret), secret))
	secret.Data["url"] = []byte(u)
	require.NoError(t, testEnv.client.Update(ctx, secret))
}
