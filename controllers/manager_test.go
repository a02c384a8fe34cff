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

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers"
)

// newScopedManager is a manager that reaches Secrets as `rekomi manager`
// does (its cache holds only the labelled ones), and whose cache holds the
// objects of namespaces and, of obj's cluster-scoped kind, only the one
// named name: the other tests reconcile theirs themselves.
func newScopedManager(tb testing.TB, namespaces []string, obj client.Object, name string) ctrl.Manager {
	tb.Helper()
	defaults := map[string]cache.Config{}
	for _, ns := range namespaces {
		defaults[ns] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(testEnv.cfg, controllers.LimitSecretAccess(ctrl.Options{
		Scheme:  testEnv.scheme,
		Logger:  logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{
			DefaultNamespaces: defaults,
			ByObject:          map[client.Object]cache.ByObject{obj: {Field: fields.OneTermEqualSelector("metadata.name", name)}},
		},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}))
	require.NoError(tb, err)
	return mgr
}

// runManager runs mgr until tb ends.
func runManager(tb testing.TB, mgr ctrl.Manager) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		require.NoError(tb, <-done)
	})
}

// TestReconcilersShareOneManager sets the reconcilers up in one manager, as
// `rekomi manager` does: those that list a Region's organizations share one
// field index, which the first registers.
func TestReconcilersShareOneManager(t *testing.T) {
	t.Parallel()
	mgr := newScopedManager(t, []string{uniqueName(t, "ns")}, &v1.Region{}, uniqueName(t, "region"))
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	require.NoError(t, (&controllers.RegionReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr))
	require.NoError(t, (&controllers.OrganizationReconciler{Client: mgr.GetClient(), DBs: dbs}).SetupWithManager(mgr))
	require.NoError(t, (&controllers.WitnessPublishReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr))
	require.NoError(t, (&controllers.WebhookEndpointReconciler{Client: mgr.GetClient(), DBs: dbs}).SetupWithManager(mgr))
}
