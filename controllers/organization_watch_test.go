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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	mgr := newScopedManager(t, []string{f.region.Spec.Namespace}, &v1.Organization{}, org.Name)
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	require.NoError(t, (&controllers.OrganizationReconciler{
		Client: mgr.GetClient(), Recorder: events.NewFakeRecorder(100), DBs: dbs, Clock: f.clock, Rand: rand.Reader,
	}).SetupWithManager(mgr))
	runManager(t, mgr)

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

	moveOwnerURLAndBack(t, f.rf.secret(t, controllers.OwnerSecretName(f.region.Name)), ready)
}

// moveOwnerURLAndBack points the owner Secret at an address nothing listens
// on, waits for ready to see the database unreachable, then puts the URL
// back and waits for ready to see it reconciled.
func moveOwnerURLAndBack(t *testing.T, owner *corev1.Secret, ready func(v1.ConditionReason)) {
	t.Helper()
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
