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
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers"
)

// TestManagerHoldsOnlyLabelledSecrets is the manager's memory as a trove:
// with a cache of every Secret, one process (and a heap dump of it) held
// every credential of the cluster. Its cache now holds only the Secrets
// labelled rekomi.io/watch=true; any other is read from the API server by
// name when a spec names it.
func TestManagerHoldsOnlyLabelledSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mgr, err := ctrl.NewManager(testEnv.cfg, controllers.LimitSecretAccess(ctrl.Options{
		Scheme:  testEnv.scheme,
		Logger:  logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"},
	}))
	require.NoError(t, err)
	ns := newNamespace(t)
	unlabelled := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "someone-elses"},
		StringData: map[string]string{"password": "not the operator's"},
	}
	require.NoError(t, testEnv.client.Create(ctx, unlabelled))
	labelled := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "watched", Labels: map[string]string{v1.WatchLabel: "true"}},
		StringData: map[string]string{"url": "postgres://example"},
	}
	require.NoError(t, testEnv.client.Create(ctx, labelled))

	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	// The cache is filled once it holds the Secret created last.
	require.Eventually(t, func() bool {
		return mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(labelled), &corev1.Secret{}) == nil
	}, 15*time.Second, 20*time.Millisecond, "the labelled Secret never reached the cache")

	t.Run("TheCacheDoesNotHoldAnUnlabelledSecret", func(t *testing.T) {
		err := mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(unlabelled), &corev1.Secret{})
		require.True(t, apierrors.IsNotFound(err), "the cache holds a Secret that is not the operator's: %v", err)
		var all corev1.SecretList
		require.NoError(t, mgr.GetCache().List(ctx, &all))
		for _, s := range all.Items {
			require.Equal(t, "true", s.Labels[v1.WatchLabel], "the cache lists %s/%s", s.Namespace, s.Name)
		}
	})
	t.Run("TheClientReadsANamedSecretFromTheAPIServer", func(t *testing.T) {
		got := &corev1.Secret{}
		require.NoError(t, mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(unlabelled), got))
		require.Equal(t, "not the operator's", string(got.Data["password"]))
	})
}
