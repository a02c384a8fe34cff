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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers"
)

// secretWatchTimeout is shorter than the manager's resync period (1m), so
// a change seen within it came from a watch, not a resync.
const secretWatchTimeout = 30 * time.Second

// TestStripeSecretReachesTheOrganization names an organization's Stripe
// Secret before it exists, then creates it and finally unbinds its
// namespace, as a platform team would with kubectl.
func TestStripeSecretReachesTheOrganization(t *testing.T) {
	mgr := startManager(t)
	setupRegions(t, mgr)
	ctx := context.Background()
	const orgName = "stripe-e2e"
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "stripe-e2e-",
		Labels: map[string]string{rekomiv1.OrganizationLabel: orgName}}}
	if err := env.client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	// Labelled for the operator to watch: only a watched Secret is acted on
	// at once.
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "stripe",
		Labels: map[string]string{rekomiv1.WatchLabel: "true"}}}
	t.Cleanup(func() {
		if err := env.client.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	org := &rekomiv1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: orgName},
		Spec: rekomiv1.OrganizationSpec{DisplayName: "Stripe E2E", Region: "eu", Plan: rekomiv1.PlanPro,
			Stripe: &rekomiv1.OrganizationStripe{SecretKeyRef: rekomiv1.OrganizationSecretKeyReference{Namespace: ns.Name, Name: "stripe"}}},
	}
	createOrganization(t, mgr, org)
	t.Cleanup(func() {
		// A provisioned organization is deleted only once purged.
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+controllers.PurgeNowAnnotation+`":"true"}}}`))
		if err := env.client.Patch(ctx, org, patch); err != nil {
			t.Error(err)
		}
	})
	conds := func() []metav1.Condition { return org.Status.Conditions }
	waitReason(t, mgr, org, conds, rekomiv1.ConditionStripeKeyReady, metav1.ConditionFalse, rekomiv1.ReasonStripeSecretNotFound, time.Minute)
	waitCondition(t, mgr, org, conds, rekomiv1.ConditionReady, metav1.ConditionTrue, time.Minute)

	secret.StringData = map[string]string{"secret-key": "sk_test_e2e0000000000000000000000000000"}
	if err := env.client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, mgr, org, conds, rekomiv1.ConditionStripeKeyReady, metav1.ConditionTrue, secretWatchTimeout)

	if err := env.client.Get(ctx, client.ObjectKeyFromObject(ns), ns); err != nil {
		t.Fatal(err)
	}
	ns.Labels[rekomiv1.OrganizationLabel] = "someone-else"
	if err := env.client.Update(ctx, ns); err != nil {
		t.Fatal(err)
	}
	waitReason(t, mgr, org, conds, rekomiv1.ConditionStripeKeyReady, metav1.ConditionFalse,
		rekomiv1.ReasonStripeSecretNamespaceNotBound, secretWatchTimeout)
}
