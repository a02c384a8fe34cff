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
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/trust"
	"github.com/rekomi/rekomi/controllers"
)

// TestRegionTrustKey checks the key a Region's app signs /trust.json with:
// made once, published in the status, mounted into the app, never
// replaced but when its Secret is deleted, and never taken from a Secret
// someone else made or edited.
func TestRegionTrustKey(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	got := f.provision(t)
	ctx := context.Background()
	name := controllers.TrustKeySecretName(got.Name)
	secret := f.secret(t, name)
	requireOwnedBy(t, secret, got)
	require.Equal(t, "true", secret.Labels[v1.WatchLabel], "the operator's cache holds it")
	key, err := trust.ParseKey(secret.Data[controllers.TrustKeySecretKey])
	require.NoError(t, err, "the app's --trust-key-file reads it")
	require.Equal(t, trust.PublicKeyString(key), got.Status.TrustPublicKey)

	dep := f.deployment(t)
	file, set := appEnv(t, dep, "REKOMI_TRUST_KEY_FILE")
	require.True(t, set)
	require.Equal(t, "/etc/rekomi/trust-key/"+controllers.TrustKeySecretKey, file)
	var mounted bool
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == name {
			mounted = true
		}
	}
	require.True(t, mounted, "the Secret is a volume of the app's pods")
	require.Equal(t, got.Status.TrustPublicKey, dep.Spec.Template.Annotations["rekomi.io/trust-public-key"])
	grace, set := appEnv(t, dep, "REKOMI_RETENTION_GRACE_PERIOD")
	require.True(t, set)
	parsed, err := time.ParseDuration(grace)
	require.NoError(t, err)
	require.Equal(t, got.Spec.Retention.GracePeriod.Duration, parsed)
	_, set = appEnv(t, dep, "REKOMI_SECURITY_CONTACT")
	require.False(t, set, "no contact unless the spec names one")

	t.Run("NamesTheSecurityContactOfTheSpec", func(t *testing.T) {
		region := &v1.Region{}
		require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(f.region), region))
		region.Spec.App.SecurityContact = "mailto:security@example.com"
		require.NoError(t, testEnv.client.Update(ctx, region))
		_, err := f.reconcile(t)
		require.NoError(t, err)
		contact, set := appEnv(t, f.deployment(t), "REKOMI_SECURITY_CONTACT")
		require.True(t, set)
		require.Equal(t, "mailto:security@example.com", contact)
	})

	t.Run("KeepsTheKeyAcrossReconciles", func(t *testing.T) {
		again, err := f.reconcile(t)
		require.NoError(t, err)
		require.Equal(t, secret.ResourceVersion, f.secret(t, name).ResourceVersion)
		require.Equal(t, got.Status.TrustPublicKey, again.Status.TrustPublicKey)
	})

	t.Run("RefusesAKeyEditedInItsSecret", func(t *testing.T) {
		// A namespace editor puts a key they know into the Region's Secret.
		edited := f.secret(t, name)
		original := edited.Data[controllers.TrustKeySecretKey]
		_, forged, err := trust.GenerateKey(rand.Reader)
		require.NoError(t, err)
		edited.Data[controllers.TrustKeySecretKey] = forged
		require.NoError(t, testEnv.client.Update(ctx, edited))
		f.drainEvents()
		after, err := f.reconcile(t)
		require.ErrorContains(t, err, "which status.trustPublicKey publishes")
		require.Equal(t, got.Status.TrustPublicKey, after.Status.TrustPublicKey, "the edited key is not published")
		require.Equal(t, got.Status.TrustPublicKey, f.deployment(t).Spec.Template.Annotations["rekomi.io/trust-public-key"],
			"the pods are not rolled onto it")
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "TrustKeyRefused")

		edited = f.secret(t, name)
		edited.Data[controllers.TrustKeySecretKey] = original
		require.NoError(t, testEnv.client.Update(ctx, edited))
		_, err = f.reconcile(t)
		require.NoError(t, err, "the published key put back is taken again")
	})

	t.Run("RefusesASecretItDidNotMake", func(t *testing.T) {
		// A namespace editor deletes the Secret and puts one of their own,
		// holding a key they know, in its place.
		require.NoError(t, testEnv.client.Delete(ctx, f.secret(t, name)))
		_, forged, err := trust.GenerateKey(rand.Reader)
		require.NoError(t, err)
		require.NoError(t, testEnv.client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: got.Spec.Namespace, Name: name,
				Labels: map[string]string{v1.WatchLabel: "true"}},
			Data: map[string][]byte{controllers.TrustKeySecretKey: forged},
		}))
		after, err := f.reconcile(t)
		require.ErrorContains(t, err, "is not region")
		require.Equal(t, got.Status.TrustPublicKey, after.Status.TrustPublicKey,
			"the published key is not the editor's, so what the app signs with it does not verify")
	})

	t.Run("MakesANewKeyForADeletedSecretAndSaysSo", func(t *testing.T) {
		require.NoError(t, testEnv.client.Delete(ctx, f.secret(t, name)))
		f.drainEvents()
		after, err := f.reconcile(t)
		require.NoError(t, err)
		require.NotEqual(t, got.Status.TrustPublicKey, after.Status.TrustPublicKey)
		key, err := trust.ParseKey(f.secret(t, name).Data[controllers.TrustKeySecretKey])
		require.NoError(t, err)
		require.Equal(t, trust.PublicKeyString(key), after.Status.TrustPublicKey)
		events := strings.Join(f.drainEvents(), "\n")
		require.Contains(t, events, "TrustKeyReplaced")
		require.Contains(t, events, got.Status.TrustPublicKey, "the event names the key earlier statements verify with")
		require.Contains(t, events, after.Status.TrustPublicKey)
		require.Equal(t, after.Status.TrustPublicKey, f.deployment(t).Spec.Template.Annotations["rekomi.io/trust-public-key"],
			"the pods roll onto the new key")
	})
}
