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
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
)

const (
	stripeKeyEnv    = "REKOMI_STRIPE_SECRET_KEY_FILE"
	stripeKeyFile   = "/etc/rekomi/stripe/secret-key"
	stripeHashAnno  = "rekomi.io/stripe-secret-key-sha256"
	stripeTestKey   = "sk_test_51Hx0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	stripeRotated   = "rk_test_51Hx1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
	stripeOtherData = "not for the app"
)

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

// setStripeRef points the Region at a Stripe Secret, or at none when ref is nil.
func (f *regionFixture) setStripeRef(t *testing.T, ref *v1.LocalSecretKeyReference) {
	t.Helper()
	ctx := context.Background()
	region := &v1.Region{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(f.region), region))
	region.Spec.App.StripeSecretKeyRef = ref
	require.NoError(t, testEnv.client.Update(ctx, region))
}

// putStripeSecret creates or replaces the Secret stripe in the Region's
// namespace with data, creating the namespace when the Region has not yet.
func (f *regionFixture) putStripeSecret(t *testing.T, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	err := testEnv.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.region.Spec.Namespace}})
	if !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace, Name: "stripe"}}
	err = testEnv.client.Get(ctx, client.ObjectKeyFromObject(secret), secret)
	if apierrors.IsNotFound(err) {
		secret.StringData = data
		require.NoError(t, testEnv.client.Create(ctx, secret))
		return
	}
	require.NoError(t, err)
	secret.Data, secret.StringData = nil, data
	require.NoError(t, testEnv.client.Update(ctx, secret))
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// requireStripeMounted checks that the Deployment gives the app exactly the
// key of Secret stripe, read-only, and carries the hash of value.
func requireStripeMounted(t *testing.T, dep *appsv1.Deployment, key, value string) {
	t.Helper()
	tmpl := dep.Spec.Template
	require.Equal(t, sha256Hex(value), tmpl.Annotations[stripeHashAnno])
	var vol *corev1.Volume
	for i := range tmpl.Spec.Volumes {
		if tmpl.Spec.Volumes[i].Name == "stripe" {
			vol = &tmpl.Spec.Volumes[i]
		}
	}
	require.NotNil(t, vol, "a stripe volume: %+v", tmpl.Spec.Volumes)
	require.NotNil(t, vol.Secret)
	require.Equal(t, "stripe", vol.Secret.SecretName)
	require.Equal(t, []corev1.KeyToPath{{Key: key, Path: "secret-key"}}, vol.Secret.Items, "only the named key")
	require.Equal(t, int32(0o440), *vol.Secret.DefaultMode)
	c := tmpl.Spec.Containers[0]
	require.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "stripe", MountPath: "/etc/rekomi/stripe", ReadOnly: true})
	require.Contains(t, c.Env, corev1.EnvVar{Name: stripeKeyEnv, Value: stripeKeyFile})
}

// requireNoStripe checks that the Deployment gives the app no Stripe key.
func requireNoStripe(t *testing.T, dep *appsv1.Deployment) {
	t.Helper()
	tmpl := dep.Spec.Template
	require.NotContains(t, tmpl.Annotations, stripeHashAnno)
	for _, v := range tmpl.Spec.Volumes {
		require.NotEqual(t, "stripe", v.Name)
	}
	c := tmpl.Spec.Containers[0]
	for _, m := range c.VolumeMounts {
		require.NotEqual(t, "stripe", m.Name)
	}
	for _, e := range c.Env {
		require.NotEqual(t, stripeKeyEnv, e.Name)
	}
	require.Len(t, tmpl.Spec.Volumes, 2, "the key ring and /tmp")
}

func TestRegionStripeSecretKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("NewRegionWaitsForItsSecretThenStarts", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, testEnv.adminURL)
		f.setStripeRef(t, &v1.LocalSecretKeyReference{Name: "stripe"})

		got, err := f.reconcile(t)
		require.NoError(t, err, "a missing Secret is a wait, not an error")
		c := requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonStripeSecretNotFound)
		require.Contains(t, c.Message, "spec.app.stripeSecretKeyRef: Secret "+f.region.Spec.Namespace+"/stripe does not exist")
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning StripeSecretNotFound")
		require.Nil(t, f.deployment(t), "no Deployment whose pods could not start")
		key := types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: f.region.Name + "-app"}
		require.NoError(t, testEnv.client.Get(ctx, key, &corev1.Service{}), "the other app objects are applied")

		f.putStripeSecret(t, map[string]string{"secret-key": stripeTestKey + "\n", "other": stripeOtherData})
		got, err = f.reconcile(t)
		require.NoError(t, err)
		dep := f.deployment(t)
		require.NotNil(t, dep)
		requireStripeMounted(t, dep, "secret-key", stripeTestKey+"\n")
		requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonProgressing)
		f.markAppAvailable(t)
		got, err = f.reconcile(t)
		require.NoError(t, err)
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
	})

	t.Run("ReadyRegionGainsRotatesAndDropsTheKey", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, testEnv.adminURL)
		f.provision(t)
		requireNoStripe(t, f.deployment(t))
		f.drainEvents()

		// Named before it exists: the running Deployment is left alone.
		f.setStripeRef(t, &v1.LocalSecretKeyReference{Name: "stripe", Key: "platform"})
		before := f.deployment(t)
		got, err := f.reconcile(t)
		require.NoError(t, err)
		c := requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonStripeSecretNotFound)
		require.Contains(t, c.Message, "does not exist")
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		require.Equal(t, before.ResourceVersion, f.deployment(t).ResourceVersion, "the Deployment is not touched")

		f.putStripeSecret(t, map[string]string{"secret-key": stripeTestKey})
		got, err = f.reconcile(t)
		require.NoError(t, err)
		c = requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonStripeSecretNotFound)
		require.Contains(t, c.Message, `has no key "platform"`)
		require.Equal(t, before.ResourceVersion, f.deployment(t).ResourceVersion)

		f.putStripeSecret(t, map[string]string{"platform": "pk_live_publishable-key-value"})
		got, err = f.reconcile(t)
		require.NoError(t, err)
		c = requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonStripeSecretInvalid)
		require.NotContains(t, c.Message, "publishable-key-value", "the value is never quoted")
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning StripeSecretInvalid")
		require.Equal(t, before.ResourceVersion, f.deployment(t).ResourceVersion)

		f.putStripeSecret(t, map[string]string{"platform": stripeTestKey, "other": stripeOtherData})
		got, err = f.reconcile(t)
		require.NoError(t, err)
		requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionTrue, v1.ReasonReconciled)
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
		requireStripeMounted(t, f.deployment(t), "platform", stripeTestKey)

		// A new value changes the pod template, so the pods are replaced.
		f.putStripeSecret(t, map[string]string{"platform": stripeRotated, "other": stripeOtherData})
		_, err = f.reconcile(t)
		require.NoError(t, err)
		requireStripeMounted(t, f.deployment(t), "platform", stripeRotated)

		// Another key of the Secret is none of the app's business.
		settled := f.deployment(t).ResourceVersion
		f.putStripeSecret(t, map[string]string{"platform": stripeRotated, "other": "changed"})
		_, err = f.reconcile(t)
		require.NoError(t, err)
		require.Equal(t, settled, f.deployment(t).ResourceVersion)

		f.setStripeRef(t, nil)
		got, err = f.reconcile(t)
		require.NoError(t, err)
		requireNoStripe(t, f.deployment(t))
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
	})

	t.Run("DeletedSecretLeavesTheDeploymentAsItWas", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, testEnv.adminURL)
		f.putStripeSecret(t, map[string]string{"secret-key": stripeTestKey})
		f.setStripeRef(t, &v1.LocalSecretKeyReference{Name: "stripe"})
		f.provision(t)
		mounted := f.deployment(t)
		requireStripeMounted(t, mounted, "secret-key", stripeTestKey)

		require.NoError(t, testEnv.client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace, Name: "stripe"}}))
		got, err := f.reconcile(t)
		require.NoError(t, err)
		requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonStripeSecretNotFound)
		require.Equal(t, mounted.ResourceVersion, f.deployment(t).ResourceVersion)
	})
}
