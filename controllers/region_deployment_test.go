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
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/config"
)

// setTrustedProxies sets the Region's spec.app.trustedProxies.
func (f *regionFixture) setTrustedProxies(t *testing.T, proxies ...v1.CIDR) {
	t.Helper()
	ctx := context.Background()
	region := &v1.Region{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(f.region), region))
	region.Spec.App.TrustedProxies = proxies
	require.NoError(t, testEnv.client.Update(ctx, region))
}

// appEnv is the value of the app container's environment variable name,
// and whether it is set.
func appEnv(t *testing.T, dep *appsv1.Deployment, name string) (string, bool) {
	t.Helper()
	require.NotNil(t, dep)
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func TestRegionTrustedProxiesReachTheApp(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	f.provision(t)
	_, set := appEnv(t, f.deployment(t), "REKOMI_TRUSTED_PROXIES")
	require.False(t, set, "no proxy is trusted by default")

	f.setTrustedProxies(t, "10.0.0.0/8", "2001:db8::/32")
	_, err := f.reconcile(t)
	require.NoError(t, err)
	value, set := appEnv(t, f.deployment(t), "REKOMI_TRUSTED_PROXIES")
	require.True(t, set)
	got, err := config.ParsePrefixes(value)
	require.NoError(t, err, "the app's --trusted-proxies reads it")
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}, got)

	f.setTrustedProxies(t)
	_, err = f.reconcile(t)
	require.NoError(t, err)
	_, set = appEnv(t, f.deployment(t), "REKOMI_TRUSTED_PROXIES")
	require.False(t, set, "removed from the spec, no longer trusted")
}

// deployment returns the Region's app Deployment, or nil when there is none.
func (f *regionFixture) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	dep := &appsv1.Deployment{}
	err := testEnv.client.Get(context.Background(), types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: f.region.Name + "-app"}, dep)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return dep
}
