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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/migrations"
)

// TestSamplesBecomeReady applies config/samples as a platform team would
// and waits for every object to be Ready, then checks what a user sees.
func TestSamplesBecomeReady(t *testing.T) {
	mgr := startManager(t)
	setupRegions(t, mgr)
	for _, file := range []string{"rekomi_v1alpha1_organization_acme.yaml", "rekomi_v1alpha1_organization_globex.yaml", "namespace_acme.yaml", "namespace_globex.yaml",
		"rekomi_v1alpha1_webhookendpoint_stripe.yaml", "rekomi_v1alpha1_webhookendpoint_clerk.yaml"} {
		applySample(t, file)
	}
	ctx := context.Background()

	tenantTables := map[string]bool{}
	for _, p := range migrations.Policies() {
		tenantTables[p.Table] = true
	}
	for _, name := range []string{"us", "eu"} {
		region := &rekomiv1.Region{}
		if err := env.client.Get(ctx, types.NamespacedName{Name: name}, region); err != nil {
			t.Fatal(err)
		}
		if int(region.Status.TenantTables) != len(tenantTables) || region.Status.SchemaVersion == 0 {
			t.Fatalf("region %s reports %d tenant tables at schema %d", name, region.Status.TenantTables, region.Status.SchemaVersion)
		}
	}
	for _, name := range []string{"acme", "globex"} {
		org := &rekomiv1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name}}
		waitCondition(t, mgr, org, func() []metav1.Condition { return org.Status.Conditions }, rekomiv1.ConditionReady, metav1.ConditionTrue, time.Minute)
		if org.Status.ID == "" {
			t.Fatalf("organization %s is Ready without an id", name)
		}
		waitCondition(t, mgr, org, func() []metav1.Condition { return org.Status.Conditions }, rekomiv1.ConditionStripeKeyReady,
			metav1.ConditionTrue, time.Minute)
	}
	for _, name := range []string{"acme-stripe", "acme-clerk"} {
		ep := &rekomiv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: name}}
		waitCondition(t, mgr, ep, func() []metav1.Condition { return ep.Status.Conditions }, rekomiv1.ConditionReady, metav1.ConditionTrue, time.Minute)
		provider := strings.TrimPrefix(name, "acme-")
		want := "https://eu.affiliates.example.com/webhooks/" + provider + "/" + ep.Status.EndpointID
		if ep.Status.EndpointID == "" || ep.Status.URL != want {
			t.Fatalf("endpoint %s publishes %q, want %q", name, ep.Status.URL, want)
		}
	}

	key := &corev1.Secret{}
	if err := env.client.Get(ctx, types.NamespacedName{Namespace: "rekomi-eu", Name: "acme-admin-api-key"}, key); err != nil {
		t.Fatalf("the first admin API key is delivered: %v", err)
	}
	if !strings.HasPrefix(string(key.Data["api-key"]), "rk_live_") {
		t.Fatalf("the delivered key has no rk_live_ prefix")
	}

	t.Run("PlanNotAllowedInEU", func(t *testing.T) {
		org := &rekomiv1.Organization{
			ObjectMeta: metav1.ObjectMeta{Name: "initech"},
			Spec:       rekomiv1.OrganizationSpec{DisplayName: "Initech", Region: "eu", Plan: rekomiv1.PlanStarter},
		}
		createOrganization(t, mgr, org)
		waitReason(t, mgr, org, func() []metav1.Condition { return org.Status.Conditions }, rekomiv1.ConditionReady,
			metav1.ConditionFalse, rekomiv1.ReasonPlanNotAllowed, time.Minute)
	})

	t.Run("RegionNotFoundUntilItExists", func(t *testing.T) {
		org := &rekomiv1.Organization{
			ObjectMeta: metav1.ObjectMeta{Name: "hooli"},
			Spec:       rekomiv1.OrganizationSpec{DisplayName: "Hooli", Region: "apac", Plan: rekomiv1.PlanPro},
		}
		createOrganization(t, mgr, org)
		waitReason(t, mgr, org, func() []metav1.Condition { return org.Status.Conditions }, rekomiv1.ConditionReady,
			metav1.ConditionFalse, rekomiv1.ReasonRegionNotFound, time.Minute)
	})
}
