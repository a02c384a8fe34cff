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

package controllers

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// builderIndexer registers field indexes in a fake client's builder, whose
// lists, as the manager's cache, answer a field selector only through an
// index. The builder panics on a field indexed twice, where the cache
// returns an error: this returns the panic as one.
type builderIndexer struct{ b *fake.ClientBuilder }

func (i builderIndexer) IndexField(_ context.Context, obj client.Object, field string, extract client.IndexerFunc) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	i.b.WithIndex(obj, field, extract)
	return nil
}

// indexTestBundle is a cluster of two Regions, eu and us, each with
// organizations and webhook endpoints, and a third Region, eu-standby,
// that shares eu's admin Secret.
type indexTestBundle struct {
	client client.Client
	ids    map[string]uuid.UUID // organization ids by name
}

func TestIndexedLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	setup := func(t *testing.T) *indexTestBundle {
		t.Helper()
		scheme := runtime.NewScheme()
		require.NoError(t, clientgoscheme.AddToScheme(scheme))
		require.NoError(t, rekomiv1.AddToScheme(scheme))
		region := func(name, adminSecret string) *rekomiv1.Region {
			r := &rekomiv1.Region{ObjectMeta: metav1.ObjectMeta{Name: name}}
			r.Spec.Namespace = name + "-apps"
			r.Spec.Database.AdminSecretRef = rekomiv1.SecretKeyReference{Namespace: "operator", Name: adminSecret}
			return r
		}
		ids := map[string]uuid.UUID{}
		witness := &rekomiv1.AuditWitness{KeyID: "k", Signature: []byte("s"),
			Checkpoints: []rekomiv1.AuditCheckpoint{{Seq: 1, Hash: make([]byte, 32)}}}
		org := func(name, region string) *rekomiv1.Organization {
			ids[name] = uuid.New()
			return &rekomiv1.Organization{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:   rekomiv1.OrganizationSpec{Region: region},
				Status: rekomiv1.OrganizationStatus{ID: ids[name].String(), Audit: witness}}
		}
		endpoint := func(namespace, name, org string) *rekomiv1.WebhookEndpoint {
			ep := &rekomiv1.WebhookEndpoint{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
			ep.Spec.Organization = org
			return ep
		}
		b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
			region("eu", "pg-admin"), region("eu-standby", "pg-admin"), region("us", "pg-admin-us"),
			org("eu-shop", "eu"), org("eu-blog", "eu"), org("us-shop", "us"),
			endpoint("shop", "orders", "eu-shop"), endpoint("blog", "posts", "eu-blog"),
			endpoint("shop", "orders-us", "us-shop"),
		)
		indexer := builderIndexer{b}
		require.NoError(t, indexRegions(ctx, indexer))
		require.NoError(t, indexOrganizationsByRegion(ctx, indexer), "registered already: the index is there")
		require.NoError(t, indexStripeSecrets(ctx, indexer))
		require.NoError(t, indexEndpoints(ctx, indexer))
		return &indexTestBundle{client: b.Build(), ids: ids}
	}
	secret := func(namespace, name string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	}
	names := func(reqs []reconcile.Request) []string {
		var out []string
		for _, req := range reqs {
			out = append(out, req.String())
		}
		return out
	}

	t.Run("OwnerSecretRequeuesTheEndpointsOfItsRegionsOrganizations", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		r := &WebhookEndpointReconciler{Client: bundle.client}
		require.ElementsMatch(t, []string{"shop/orders", "blog/posts"},
			names(r.endpointsForOwnerSecret(ctx, secret("eu-apps", OwnerSecretName("eu")))))
		require.ElementsMatch(t, []string{"shop/orders-us"},
			names(r.endpointsForOwnerSecret(ctx, secret("us-apps", OwnerSecretName("us")))))
		require.Empty(t, r.endpointsForOwnerSecret(ctx, secret("us-apps", OwnerSecretName("eu"))),
			"a Secret of that name outside the Region's namespace is not its owner credentials")
	})

	t.Run("OwnerSecretRequeuesItsRegionsOrganizations", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		r := &OrganizationReconciler{Client: bundle.client}
		require.ElementsMatch(t, []string{"/eu-shop", "/eu-blog"},
			names(r.organizationsForOwnerSecret(ctx, secret("eu-apps", OwnerSecretName("eu")))))
		require.Empty(t, r.organizationsForOwnerSecret(ctx, secret("eu-apps", OwnerSecretName("eu-standby"))),
			"a Region without organizations")
	})

	t.Run("AdminSecretRequeuesTheRegionsThatNameIt", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		r := &RegionReconciler{Client: bundle.client}
		require.ElementsMatch(t, []string{"/eu", "/eu-standby"}, names(r.regionsForSecret(ctx, secret("operator", "pg-admin"))))
		require.ElementsMatch(t, []string{"/us"}, names(r.regionsForSecret(ctx, secret("operator", "pg-admin-us"))))
		require.Empty(t, r.regionsForSecret(ctx, secret("eu-apps", "pg-admin")), "same name, another namespace")
	})

	t.Run("RepairsAreAuditedInTheRegionsOrganizations", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		r := &RegionReconciler{Client: bundle.client}
		ids, err := r.organizationIDs(ctx, "eu")
		require.NoError(t, err)
		require.ElementsMatch(t, []uuid.UUID{bundle.ids["eu-shop"], bundle.ids["eu-blog"]}, ids)
	})

	t.Run("OnlyTheRegionsOrganizationsArePublished", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		r := &WitnessPublishReconciler{Client: bundle.client}
		_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: "eu"}})
		require.NoError(t, err)
		var shards corev1.ConfigMapList
		require.NoError(t, bundle.client.List(ctx, &shards, client.InNamespace("eu-apps")))
		var published []string
		for _, cm := range shards.Items {
			for id := range cm.Data {
				published = append(published, id)
			}
		}
		require.ElementsMatch(t, []string{bundle.ids["eu-shop"].String(), bundle.ids["eu-blog"].String()}, published)
	})
}
