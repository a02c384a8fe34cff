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
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// validationCase mutates a valid object and says which error, if any, the API
// server must answer with.
type validationCase[T client.Object] struct {
	mutate  func(T)
	wantErr string // empty: the object is accepted
}

// checkCreate creates one object per case, each made by newObj and then
// mutated.
func checkCreate[T client.Object](t *testing.T, newObj func(testing.TB) T, cases map[string]validationCase[T]) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			obj := newObj(t)
			tc.mutate(obj)
			err := testEnv.client.Create(context.Background(), obj)
			requireVerdict(t, err, tc.wantErr)
		})
	}
}

// checkUpdate creates a valid object per case, then applies the mutation as
// an update.
func checkUpdate[T client.Object](t *testing.T, newObj func(testing.TB) T, cases map[string]validationCase[T]) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			obj := newObj(t)
			require.NoError(t, testEnv.client.Create(ctx, obj), "the valid object must be accepted")
			tc.mutate(obj)
			err := testEnv.client.Update(ctx, obj)
			requireVerdict(t, err, tc.wantErr)
		})
	}
}

func requireVerdict(t *testing.T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		require.NoError(t, err)
		return
	}
	require.Error(t, err, "the API server must refuse this object")
	require.True(t, apierrors.IsInvalid(err), "want an Invalid error, got %v", err)
	require.ErrorContains(t, err, wantErr)
}

// uniqueName returns a DNS label unique to this test run.
func uniqueName(t testing.TB, prefix string) string {
	t.Helper()
	name := strings.ToLower(prefix + "-" + strings.ReplaceAll(t.Name(), "/", "-"))
	name = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
			return r
		}
		return '-'
	}, name)
	suffix := "-" + utilrand.String(6)
	if len(name) > 59-len(suffix) {
		name = name[:59-len(suffix)]
	}
	return strings.TrimRight(name, "-") + suffix
}

// newNamespace creates a namespace for one test (envtest never finishes
// deleting namespaces, so each test gets its own).
func newNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	require.NoError(t, testEnv.client.Create(context.Background(), ns))
	return ns.Name
}

func validRegion(t testing.TB) *v1.Region {
	return &v1.Region{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "rgn")},
		Spec: v1.RegionSpec{
			Location:  v1.LocationEU,
			Namespace: "rekomi-eu",
			Database: v1.RegionDatabase{
				AdminSecretRef: v1.SecretKeyReference{Namespace: "rekomi-system", Name: "postgres-admin"},
			},
			App: v1.RegionApp{PublicBaseURL: "https://eu.affiliates.example.com"},
		},
	}
}

func validOrganization(t testing.TB) *v1.Organization {
	return &v1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "org")},
		Spec:       v1.OrganizationSpec{DisplayName: "Acme GmbH", Region: "eu", Plan: v1.PlanPro},
	}
}

func validWebhookEndpoint(t testing.TB) *v1.WebhookEndpoint {
	return &v1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Name: "acme-stripe", Namespace: newNamespace(t)},
		Spec: v1.WebhookEndpointSpec{
			Organization: "acme",
			Provider:     v1.ProviderStripe,
			SecretRef:    v1.LocalSecretReference{Name: "acme-stripe-signing"},
		},
	}
}

func duration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func TestRegionCreateValidation(t *testing.T) {
	t.Parallel()
	checkCreate(t, validRegion, map[string]validationCase[*v1.Region]{
		"accepts a valid region":          {mutate: func(*v1.Region) {}},
		"accepts a us region":             {mutate: func(r *v1.Region) { r.Spec.Location = v1.LocationUS }},
		"accepts http for localhost":      {mutate: func(r *v1.Region) { r.Spec.App.PublicBaseURL = "http://127.0.0.1:8080" }},
		"accepts a base URL with a path":  {mutate: func(r *v1.Region) { r.Spec.App.PublicBaseURL = "https://example.com/affiliates" }},
		"refuses an unknown location":     {mutate: func(r *v1.Region) { r.Spec.Location = "asia" }, wantErr: `spec.location: Unsupported value: "asia"`},
		"refuses a missing location":      {mutate: func(r *v1.Region) { r.Spec.Location = "" }, wantErr: `spec.location: Unsupported value: ""`},
		"refuses an upper-case namespace": {mutate: func(r *v1.Region) { r.Spec.Namespace = "Rekomi-EU" }, wantErr: "namespace must be a DNS label"},
		"refuses a namespace with a dot":  {mutate: func(r *v1.Region) { r.Spec.Namespace = "rekomi.eu" }, wantErr: "namespace must be a DNS label"},
		"refuses a namespace ending in -": {mutate: func(r *v1.Region) { r.Spec.Namespace = "rekomi-" }, wantErr: "namespace must be a DNS label"},
		"refuses kube-system":             {mutate: func(r *v1.Region) { r.Spec.Namespace = "kube-system" }, wantErr: "namespace must be one of the region's own"},
		"refuses default":                 {mutate: func(r *v1.Region) { r.Spec.Namespace = "default" }, wantErr: "namespace must be one of the region's own"},
		"refuses kube-node-lease":         {mutate: func(r *v1.Region) { r.Spec.Namespace = "kube-node-lease" }, wantErr: "namespace must be one of the region's own"},
		"refuses a namespace over 63 characters": {
			mutate:  func(r *v1.Region) { r.Spec.Namespace = strings.Repeat("a", 64) },
			wantErr: "spec.namespace: Too long",
		},
		"refuses a name that is not a DNS label": {
			mutate:  func(r *v1.Region) { r.Name = "eu.west" },
			wantErr: "a Region's name must be at most 59",
		},
		"refuses a name starting with a digit": {
			mutate:  func(r *v1.Region) { r.Name = "1eu" },
			wantErr: "a Region's name must be at most 59",
		},
		"refuses a name over 59 characters": {
			mutate:  func(r *v1.Region) { r.Name = strings.Repeat("e", 60) },
			wantErr: "a Region's name must be at most 59",
		},
		"refuses the same owner and runtime role": {
			mutate:  func(r *v1.Region) { r.Spec.Database.OwnerRole, r.Spec.Database.RuntimeRole = "rekomi", "rekomi" },
			wantErr: "ownerRole and runtimeRole must differ",
		},
		"refuses a reserved role name": {
			mutate:  func(r *v1.Region) { r.Spec.Database.RuntimeRole = "pg_app" },
			wantErr: "role names starting with pg_ are reserved",
		},
		"refuses a role name that needs quoting": {
			mutate:  func(r *v1.Region) { r.Spec.Database.OwnerRole = `Owner"; DROP ROLE x; --` },
			wantErr: "spec.database.ownerRole: Invalid value",
		},
		"refuses a database name that needs quoting": {
			mutate:  func(r *v1.Region) { r.Spec.Database.Name = "rekomi-eu" },
			wantErr: "spec.database.name: Invalid value",
		},
		"refuses an admin secret without a namespace": {
			mutate:  func(r *v1.Region) { r.Spec.Database.AdminSecretRef.Namespace = "" },
			wantErr: "spec.database.adminSecretRef.namespace",
		},
		"accepts a mailto security contact": {
			mutate: func(r *v1.Region) { r.Spec.App.SecurityContact = "mailto:security@example.com" },
		},
		"accepts an https security contact": {
			mutate: func(r *v1.Region) { r.Spec.App.SecurityContact = "https://example.com/.well-known/security.txt" },
		},
		"refuses an http security contact": {
			mutate:  func(r *v1.Region) { r.Spec.App.SecurityContact = "http://example.com/security" },
			wantErr: "securityContact must be a mailto: address or an https URL",
		},
		"refuses a mailto with a trailing newline": {
			mutate:  func(r *v1.Region) { r.Spec.App.SecurityContact = "mailto:security@example.com\n" },
			wantErr: "securityContact must be a mailto: address or an https URL",
		},
		"refuses a mailto with a control character": {
			mutate:  func(r *v1.Region) { r.Spec.App.SecurityContact = "mailto:secu\x01rity@example.com" },
			wantErr: "securityContact must be a mailto: address or an https URL",
		},
		"refuses a bare address as security contact": {
			mutate:  func(r *v1.Region) { r.Spec.App.SecurityContact = "security@example.com" },
			wantErr: "securityContact must be a mailto: address or an https URL",
		},
		"refuses a plain-http public URL": {
			mutate:  func(r *v1.Region) { r.Spec.App.PublicBaseURL = "http://eu.affiliates.example.com" },
			wantErr: "publicBaseURL must use https",
		},
		"refuses a public URL that is not a URL": {
			mutate:  func(r *v1.Region) { r.Spec.App.PublicBaseURL = "eu.affiliates.example.com" },
			wantErr: "publicBaseURL must be an absolute URL with a host",
		},
		"refuses a public URL with a query": {
			mutate:  func(r *v1.Region) { r.Spec.App.PublicBaseURL = "https://example.com/?ref=1" },
			wantErr: "publicBaseURL must not carry a query or a fragment",
		},
		"accepts trusted proxies as networks and single addresses": {mutate: func(r *v1.Region) {
			r.Spec.App.TrustedProxies = []v1.CIDR{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128"}
		}},
		"refuses a trusted proxy that is not a network": {
			mutate:  func(r *v1.Region) { r.Spec.App.TrustedProxies = []v1.CIDR{"10.0.0.0/8", "ingress-nginx"} },
			wantErr: "spec.app.trustedProxies[1]: Invalid value: \"ingress-nginx\": must be a network in CIDR notation",
		},
		"refuses a trusted proxy without a prefix length": {
			mutate:  func(r *v1.Region) { r.Spec.App.TrustedProxies = []v1.CIDR{"10.1.2.3"} },
			wantErr: "must be a network in CIDR notation",
		},
		"refuses a trusted proxy written with a host address": {
			mutate:  func(r *v1.Region) { r.Spec.App.TrustedProxies = []v1.CIDR{"10.1.2.3/8"} },
			wantErr: "must be written in canonical form with its network address",
		},
		"refuses trusting every IPv4 peer": {
			mutate:  func(r *v1.Region) { r.Spec.App.TrustedProxies = []v1.CIDR{"0.0.0.0/0"} },
			wantErr: "must not be the whole address space",
		},
		"refuses trusting every IPv6 peer": {
			mutate:  func(r *v1.Region) { r.Spec.App.TrustedProxies = []v1.CIDR{"::/0"} },
			wantErr: "must not be the whole address space",
		},
		"refuses a trusted proxy listed twice": {
			mutate:  func(r *v1.Region) { r.Spec.App.TrustedProxies = []v1.CIDR{"10.0.0.0/8", "10.0.0.0/8"} },
			wantErr: "spec.app.trustedProxies[1]: Duplicate value",
		},
		"refuses more than 32 trusted proxies": {
			mutate: func(r *v1.Region) {
				for i := range 33 {
					r.Spec.App.TrustedProxies = append(r.Spec.App.TrustedProxies, v1.CIDR(fmt.Sprintf("10.%d.0.0/16", i)))
				}
			},
			wantErr: "spec.app.trustedProxies: Too many",
		},
		"refuses zero replicas": {
			mutate:  func(r *v1.Region) { r.Spec.App.Replicas = ptr.To[int32](0) },
			wantErr: "spec.app.replicas: Invalid value: 0",
		},
		"refuses an unknown plan": {
			mutate:  func(r *v1.Region) { r.Spec.AllowedPlans = []v1.Plan{v1.PlanPro, "gold"} },
			wantErr: `Unsupported value: "gold"`,
		},
		"refuses a plan listed twice": {
			mutate:  func(r *v1.Region) { r.Spec.AllowedPlans = []v1.Plan{v1.PlanPro, v1.PlanPro} },
			wantErr: "spec.allowedPlans[1]: Duplicate value",
		},
		"refuses a grace period under an hour": {
			mutate:  func(r *v1.Region) { r.Spec.Retention.GracePeriod = duration(10 * time.Minute) },
			wantErr: "gracePeriod must be at least 1h",
		},
	})
}

func TestRegionDefaults(t *testing.T) {
	t.Parallel()
	r := validRegion(t)
	require.NoError(t, testEnv.client.Create(context.Background(), r))
	require.Equal(t, "rekomi", r.Spec.Database.Name)
	require.Equal(t, "rekomi", r.Spec.Database.OwnerRole)
	require.Equal(t, "rekomi_app", r.Spec.Database.RuntimeRole)
	require.Equal(t, "url", r.Spec.Database.AdminSecretRef.Key)
	require.Equal(t, ptr.To[int32](2), r.Spec.App.Replicas)
	require.Equal(t, []v1.Plan{v1.PlanTrial, v1.PlanStarter, v1.PlanPro, v1.PlanEnterprise}, r.Spec.AllowedPlans)
	require.Equal(t, 720*time.Hour, r.Spec.Retention.GracePeriod.Duration)
}

func TestRegionUpdateValidation(t *testing.T) {
	t.Parallel()
	checkUpdate(t, validRegion, map[string]validationCase[*v1.Region]{
		"refuses a location change":       {mutate: func(r *v1.Region) { r.Spec.Location = v1.LocationUS }, wantErr: "location is immutable"},
		"refuses a namespace change":      {mutate: func(r *v1.Region) { r.Spec.Namespace = "rekomi-eu2" }, wantErr: "namespace is immutable"},
		"refuses a database name change":  {mutate: func(r *v1.Region) { r.Spec.Database.Name = "other" }, wantErr: "database name is immutable"},
		"refuses an owner role change":    {mutate: func(r *v1.Region) { r.Spec.Database.OwnerRole = "owner2" }, wantErr: "ownerRole is immutable"},
		"refuses a runtime role change":   {mutate: func(r *v1.Region) { r.Spec.Database.RuntimeRole = "app2" }, wantErr: "runtimeRole is immutable"},
		"accepts a replica change":        {mutate: func(r *v1.Region) { r.Spec.App.Replicas = ptr.To[int32](5) }},
		"accepts an allowed plans change": {mutate: func(r *v1.Region) { r.Spec.AllowedPlans = []v1.Plan{v1.PlanEnterprise} }},
		"accepts a new admin secret": {mutate: func(r *v1.Region) {
			r.Spec.Database.AdminSecretRef.Name = "postgres-admin-rotated"
		}},
	})
}

func TestOrganizationCreateValidation(t *testing.T) {
	t.Parallel()
	checkCreate(t, validOrganization, map[string]validationCase[*v1.Organization]{
		"accepts a valid organization":      {mutate: func(*v1.Organization) {}},
		"accepts a cancelled organization":  {mutate: func(o *v1.Organization) { o.Spec.Cancelled = true }},
		"refuses an unknown plan":           {mutate: func(o *v1.Organization) { o.Spec.Plan = "gold" }, wantErr: `spec.plan: Unsupported value: "gold"`},
		"refuses an empty display name":     {mutate: func(o *v1.Organization) { o.Spec.DisplayName = "" }, wantErr: "spec.displayName"},
		"refuses an empty region":           {mutate: func(o *v1.Organization) { o.Spec.Region = "" }, wantErr: "spec.region"},
		"refuses a display name over limit": {mutate: func(o *v1.Organization) { o.Spec.DisplayName = strings.Repeat("x", 201) }, wantErr: "spec.displayName: Too long"},
		"refuses a name longer than a label value": {mutate: func(o *v1.Organization) { o.Name += strings.Repeat("o", 64-len(o.Name)) },
			wantErr: "at most 63 characters"},
		"accepts a name as long as a label value": {mutate: func(o *v1.Organization) { o.Name += strings.Repeat("o", 63-len(o.Name)) }},
		"accepts payout limits":                   {mutate: func(o *v1.Organization) { o.Spec.PayoutLimits = v1.PayoutLimits{PerPayout: 500, PerDay: 500} }},
		"refuses a daily payout limit below the limit per payout": {
			mutate:  func(o *v1.Organization) { o.Spec.PayoutLimits = v1.PayoutLimits{PerPayout: 5000, PerDay: 4999} },
			wantErr: "perDay must be at least perPayout"},
		"accepts a Stripe secret key reference": {mutate: func(o *v1.Organization) {
			o.Spec.Stripe = stripeRef("acme-payments", "stripe.platform-1", "STRIPE_SECRET_KEY.v2")
		}},
		"refuses a Stripe Secret without a namespace": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("", "stripe", "") },
			wantErr: "spec.stripe.secretKeyRef.namespace",
		},
		"refuses a Stripe Secret namespace with a dot": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("acme.payments", "stripe", "") },
			wantErr: "namespace must be a namespace name",
		},
		"refuses a Stripe Secret without a name": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("acme", "", "") },
			wantErr: "spec.stripe.secretKeyRef.name",
		},
		"refuses an upper-case Stripe Secret name": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("acme", "Stripe", "") },
			wantErr: "name must be a Secret name",
		},
		"refuses a Stripe Secret name with a slash": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("acme", "rekomi-system/stripe", "") },
			wantErr: "name must be a Secret name",
		},
		"refuses a Stripe Secret name over 253 characters": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("acme", strings.Repeat("s", 254), "") },
			wantErr: "spec.stripe.secretKeyRef.name: Too long",
		},
		"refuses a Stripe key that is a path": {
			mutate:  func(o *v1.Organization) { o.Spec.Stripe = stripeRef("acme", "stripe", "../keyring") },
			wantErr: "spec.stripe.secretKeyRef.key: Invalid value",
		},
		"refuses a negative payout limit": {mutate: func(o *v1.Organization) { o.Spec.PayoutLimits.PerPayout = -1 },
			wantErr: "spec.payoutLimits.perPayout: Invalid value: -1"},
	})
}

// stripeRef is spec.stripe naming key of Secret namespace/name.
func stripeRef(namespace, name, key string) *v1.OrganizationStripe {
	return &v1.OrganizationStripe{SecretKeyRef: v1.OrganizationSecretKeyReference{Namespace: namespace, Name: name, Key: key}}
}

// TestOrganizationStripeDefaults proves that a Stripe Secret reference
// without a key reads key secret-key, and that none is set unless named.
func TestOrganizationStripeDefaults(t *testing.T) {
	t.Parallel()
	o := validOrganization(t)
	require.NoError(t, testEnv.client.Create(context.Background(), o))
	require.Nil(t, o.Spec.Stripe, "no Stripe key unless one is named")

	withStripe := validOrganization(t)
	withStripe.Spec.Stripe = stripeRef("acme-payments", "stripe", "")
	require.NoError(t, testEnv.client.Create(context.Background(), withStripe))
	require.Equal(t, "secret-key", withStripe.Spec.Stripe.SecretKeyRef.Key)
}

// TestOrganizationPayoutLimitDefaults proves that an Organization created
// without payout limits gets the documented ones.
func TestOrganizationPayoutLimitDefaults(t *testing.T) {
	t.Parallel()
	org := validOrganization(t)
	require.NoError(t, testEnv.client.Create(context.Background(), org))
	t.Cleanup(func() { _ = testEnv.client.Delete(context.Background(), org) })
	require.Equal(t, v1.PayoutLimits{PerPayout: 1_000_000, PerDay: 2_500_000}, org.Spec.PayoutLimits)
}

func TestOrganizationUpdateValidation(t *testing.T) {
	t.Parallel()
	checkUpdate(t, validOrganization, map[string]validationCase[*v1.Organization]{
		"refuses a region change":   {mutate: func(o *v1.Organization) { o.Spec.Region = "us" }, wantErr: "region is immutable"},
		"accepts a plan change":     {mutate: func(o *v1.Organization) { o.Spec.Plan = v1.PlanStarter }},
		"accepts a cancellation":    {mutate: func(o *v1.Organization) { o.Spec.Cancelled = true }},
		"accepts a new displayName": {mutate: func(o *v1.Organization) { o.Spec.DisplayName = "Acme SE" }},
	})
}

func TestWebhookEndpointCreateValidation(t *testing.T) {
	t.Parallel()
	checkCreate(t, validWebhookEndpoint, map[string]validationCase[*v1.WebhookEndpoint]{
		"accepts a stripe endpoint":   {mutate: func(*v1.WebhookEndpoint) {}},
		"accepts a clerk endpoint":    {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Provider = v1.ProviderClerk }},
		"accepts a 60s tolerance":     {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Tolerance = duration(60 * time.Second) }},
		"accepts a 600s tolerance":    {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Tolerance = duration(600 * time.Second) }},
		"refuses an unknown provider": {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Provider = "paypal" }, wantErr: `spec.provider: Unsupported value: "paypal"`},
		"refuses a 30s tolerance": {
			mutate:  func(w *v1.WebhookEndpoint) { w.Spec.Tolerance = duration(30 * time.Second) },
			wantErr: "tolerance must be between 60s and 600s",
		},
		"refuses a 601s tolerance": {
			mutate:  func(w *v1.WebhookEndpoint) { w.Spec.Tolerance = duration(601 * time.Second) },
			wantErr: "tolerance must be between 60s and 600s",
		},
		"refuses a missing secret name": {
			mutate:  func(w *v1.WebhookEndpoint) { w.Spec.SecretRef.Name = "" },
			wantErr: "spec.secretRef.name",
		},
		"refuses a missing organization": {
			mutate:  func(w *v1.WebhookEndpoint) { w.Spec.Organization = "" },
			wantErr: "spec.organization",
		},
	})
}

func TestWebhookEndpointDefaults(t *testing.T) {
	t.Parallel()
	w := validWebhookEndpoint(t)
	require.NoError(t, testEnv.client.Create(context.Background(), w))
	require.Equal(t, 300*time.Second, w.Spec.Tolerance.Duration)
}

func TestWebhookEndpointUpdateValidation(t *testing.T) {
	t.Parallel()
	checkUpdate(t, validWebhookEndpoint, map[string]validationCase[*v1.WebhookEndpoint]{
		"refuses an organization change": {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Organization = "globex" }, wantErr: "organization is immutable"},
		"refuses a provider change":      {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Provider = v1.ProviderClerk }, wantErr: "provider is immutable"},
		"refuses a tolerance out of range": {
			mutate:  func(w *v1.WebhookEndpoint) { w.Spec.Tolerance = duration(time.Hour) },
			wantErr: "tolerance must be between 60s and 600s",
		},
		"accepts a new secret":    {mutate: func(w *v1.WebhookEndpoint) { w.Spec.SecretRef.Name = "acme-stripe-signing-2" }},
		"accepts a new tolerance": {mutate: func(w *v1.WebhookEndpoint) { w.Spec.Tolerance = duration(120 * time.Second) }},
	})
}
