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

package e2e_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// secretWatchTimeout is shorter than the manager's resync period (1m), so
// a change seen within it came from the Secret's watch, not a resync.
const secretWatchTimeout = 30 * time.Second

// TestStripeSecretReachesTheApp names a Stripe Secret in a running Region
// before the Secret exists, then creates, rotates and finally drops it, as
// a platform team would with kubectl.
func TestStripeSecretReachesTheApp(t *testing.T) {
	mgr := startManager(t)
	setupRegions(t, mgr)
	ctx := context.Background()
	region := &rekomiv1.Region{ObjectMeta: metav1.ObjectMeta{Name: "us"}}
	// Labelled for the operator to watch: only a watched Secret is acted on
	// at once.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "rekomi-us", Name: "stripe-platform",
		Labels: map[string]string{rekomiv1.WatchLabel: "true"}}}
	depKey := types.NamespacedName{Namespace: "rekomi-us", Name: "us-app"}
	t.Cleanup(func() {
		patchRegion(t, region, `{"spec":{"app":{"stripeSecretKeyRef":null}}}`)
		if err := env.client.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	conds := func() []metav1.Condition { return region.Status.Conditions }

	patchRegion(t, region, `{"spec":{"app":{"stripeSecretKeyRef":{"name":"stripe-platform"}}}}`)
	waitReason(t, mgr, region, conds, rekomiv1.ConditionAppAvailable, metav1.ConditionFalse, rekomiv1.ReasonStripeSecretNotFound, time.Minute)
	if status, _, _ := conditionStatus(t, region, conds, rekomiv1.ConditionReady); status != metav1.ConditionFalse {
		t.Fatalf("Ready=%s while the Stripe Secret is missing", status)
	}

	const first = "sk_test_e2e0000000000000000000000000000"
	secret.StringData = map[string]string{"secret-key": first}
	if err := env.client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitStripeHash(t, mgr, depKey, first)
	waitCondition(t, mgr, region, conds, rekomiv1.ConditionReady, metav1.ConditionTrue, secretWatchTimeout)

	const rotated = "sk_test_e2e1111111111111111111111111111"
	if err := env.client.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{"secret-key": []byte(rotated)}
	if err := env.client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitStripeHash(t, mgr, depKey, rotated)

	patchRegion(t, region, `{"spec":{"app":{"stripeSecretKeyRef":null}}}`)
	waitFor(t, mgr, time.Minute, "the app Deployment without a Stripe volume", func() (bool, string) {
		dep := &appsv1.Deployment{}
		if err := env.client.Get(ctx, depKey, dep); err != nil {
			return false, err.Error()
		}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == secret.Name {
				return false, "volume " + v.Name + " still mounts " + secret.Name
			}
		}
		return true, ""
	})
}

func patchRegion(tb testing.TB, region *rekomiv1.Region, patch string) {
	tb.Helper()
	if err := env.client.Patch(context.Background(), region, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		tb.Fatalf("patching Region %s with %s: %v", region.Name, patch, err)
	}
}

// waitStripeHash waits until the app Deployment's pod template carries the
// hash of the Stripe key value, which only the Secret's watch can bring
// within secretWatchTimeout.
func waitStripeHash(tb testing.TB, mgr *managerProcess, key types.NamespacedName, value string) {
	tb.Helper()
	sum := sha256.Sum256([]byte(value))
	want := hex.EncodeToString(sum[:])
	waitFor(tb, mgr, secretWatchTimeout, "the app Deployment to carry the new Stripe key's hash", func() (bool, string) {
		dep := &appsv1.Deployment{}
		if err := env.client.Get(context.Background(), key, dep); err != nil {
			return false, err.Error()
		}
		got := dep.Spec.Template.Annotations["rekomi.io/stripe-secret-key-sha256"]
		return got == want, fmt.Sprintf("annotation is %q", got)
	})
}
