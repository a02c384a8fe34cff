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
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// applyKustomization renders dir as `kubectl kustomize` does and creates
// every object.
func (s *suite) applyKustomization(dir string) error {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", dir, err)
	}
	for _, r := range resources.Resources() {
		m, err := r.Map()
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		if err := s.client.Create(context.Background(), u); client.IgnoreAlreadyExists(err) != nil {
			return fmt.Errorf("creating %s %s from %s: %w", u.GetKind(), u.GetName(), dir, err)
		}
	}
	return nil
}

// TestNamespaceBinding is the cross-tenant injection: mallory may edit
// WebhookEndpoints and Secrets in namespaces of her own (what the built-in
// edit role grants, since config/rbac aggregates the endpoint editor role
// into it) and creates an endpoint naming another tenant, acme, to have
// deliveries signed with her secret applied to it. The API server refuses
// it, in a namespace bound to no organization and in one bound to hers.
func TestNamespaceBinding(t *testing.T) {
	ctx := context.Background()
	mallory := impersonate(t, "mallory")
	for name, org := range map[string]string{"mallory-scratch": "", "globex-team": "globex"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if org != "" {
			ns.Labels = map[string]string{rekomiv1.OrganizationLabel: org}
		}
		createOrFail(t, ns)
		grantEndpointEditing(t, name, "mallory")
	}

	refused := func(namespace, org string) error {
		err := mallory.Create(ctx, endpoint(namespace, "hijack", org), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a WebhookEndpoint naming %s in namespace %s was admitted", org, namespace)
		}
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rekomi.io tenant-namespace") {
			return fmt.Errorf("refused for another reason than the tenant namespace rule: %w", err)
		}
		return nil
	}
	// A new policy is enforced once the API server has loaded it.
	waitFor(t, nil, time.Minute, "the tenant namespace policy to be enforced", func() (bool, string) {
		err := refused("mallory-scratch", "acme")
		return err == nil, fmt.Sprint(err)
	})

	t.Run("AnUnboundNamespaceIsRefused", func(t *testing.T) {
		if err := refused("mallory-scratch", "acme"); err != nil {
			t.Fatal(err)
		}
		err := mallory.Create(ctx, endpoint("mallory-scratch", "hijack", "acme"))
		if !strings.Contains(fmt.Sprint(err), "namespace mallory-scratch is not bound to it") {
			t.Fatalf("the refusal does not name the rule's reason: %v", err)
		}
		t.Logf("refused: %v", err)
	})
	t.Run("ANamespaceBoundToAnotherOrganizationIsRefused", func(t *testing.T) {
		if err := refused("globex-team", "acme"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("HerOwnOrganizationInItsNamespaceIsAdmitted", func(t *testing.T) {
		ep := endpoint("globex-team", "globex-stripe", "globex")
		if err := mallory.Create(ctx, ep); err != nil {
			t.Fatalf("an endpoint in its own bound namespace is refused: %v", err)
		}
		t.Cleanup(func() {
			if err := mallory.Delete(ctx, ep); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting %s: %v", ep.Name, err)
			}
		})
	})
	t.Run("SheCannotBindANamespace", func(t *testing.T) {
		ns := &corev1.Namespace{}
		if err := env.client.Get(ctx, client.ObjectKey{Name: "mallory-scratch"}, ns); err != nil {
			t.Fatal(err)
		}
		ns.Labels = map[string]string{rekomiv1.OrganizationLabel: "acme"}
		if err := mallory.Update(ctx, ns); !apierrors.IsForbidden(err) {
			t.Fatalf("an endpoint editor labels her namespace for acme: %v", err)
		}
	})
}

// impersonate is a client of the control plane acting as user.
func impersonate(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	c, err := client.New(cfg, client.Options{Scheme: env.client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// grantEndpointEditing binds user, in namespace, to the WebhookEndpoint
// editor role of config/rbac and to editing Secrets: what the built-in
// edit role grants there.
func grantEndpointEditing(t *testing.T, namespace, user string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", "webhookendpoint_editor_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	editor := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, editor); err != nil {
		t.Fatal(err)
	}
	editor.Rules = append(editor.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
		Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}})
	editor.Name = "e2e-" + editor.Name
	if err := env.client.Create(context.Background(), editor); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	createOrFail(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: user + "-edits-endpoints"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: editor.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})
}

func endpoint(namespace, name, org string) *rekomiv1.WebhookEndpoint {
	return &rekomiv1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: rekomiv1.WebhookEndpointSpec{Organization: org, Provider: rekomiv1.ProviderStripe,
			SecretRef: rekomiv1.LocalSecretReference{Name: name + "-signing"}},
	}
}

func createOrFail(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.client.Create(context.Background(), obj); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// TestRegionAdminSecretAdmission is a Region naming, as its admin Secret, a
// Secret of another namespace (kube-system's, a tenant's): whoever may
// create Regions would have the operator read it and connect with it. The
// API server refuses it; the Region's own namespace and the operator's are
// admitted.
func TestRegionAdminSecretAdmission(t *testing.T) {
	ctx := context.Background()
	region := func(secretNamespace string) *rekomiv1.Region {
		return &rekomiv1.Region{
			ObjectMeta: metav1.ObjectMeta{Name: "admission-check"},
			Spec: rekomiv1.RegionSpec{
				Location:  rekomiv1.LocationEU,
				Namespace: "rekomi-admission-check",
				Database: rekomiv1.RegionDatabase{AdminSecretRef: rekomiv1.SecretKeyReference{
					Namespace: secretNamespace, Name: "postgres-admin"}},
				App: rekomiv1.RegionApp{PublicBaseURL: "https://eu.example.com"},
			},
		}
	}
	refused := func(secretNamespace string) error {
		err := env.client.Create(ctx, region(secretNamespace), client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a Region with its admin Secret in %s was admitted", secretNamespace)
		}
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rekomi.io region-admin-secret") {
			return fmt.Errorf("refused for another reason than the admin Secret rule: %w", err)
		}
		return nil
	}
	waitFor(t, nil, time.Minute, "the admin Secret policy to be enforced", func() (bool, string) {
		err := refused("kube-system")
		return err == nil, fmt.Sprint(err)
	})

	t.Run("AnotherNamespaceIsRefused", func(t *testing.T) {
		for _, ns := range []string{"kube-system", "globex-team", "default"} {
			if err := refused(ns); err != nil {
				t.Fatal(err)
			}
		}
		err := env.client.Create(ctx, region("kube-system"), client.DryRunAll)
		want := "it must be in the Region's namespace (rekomi-admission-check) or the operator's (" + operatorNamespace + ")"
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Fatalf("the refusal does not say where the Secret may be: %v", err)
		}
		t.Logf("refused: %v", err)
	})
	t.Run("TheOperatorsNamespaceIsAdmitted", func(t *testing.T) {
		if err := env.client.Create(ctx, region(operatorNamespace), client.DryRunAll); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("TheRegionsOwnNamespaceIsAdmitted", func(t *testing.T) {
		if err := env.client.Create(ctx, region("rekomi-admission-check"), client.DryRunAll); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("AnUpdateMovingItElsewhereIsRefused", func(t *testing.T) {
		r := region(operatorNamespace)
		r.Name = "admission-check-update"
		if err := env.client.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := env.client.Delete(ctx, r); client.IgnoreNotFound(err) != nil {
				t.Errorf("deleting region %s: %v", r.Name, err)
			}
		})
		r.Spec.Database.AdminSecretRef.Namespace = "kube-system"
		err := env.client.Update(ctx, r, client.DryRunAll)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "rekomi.io region-admin-secret") {
			t.Fatalf("an update moving the admin Secret to kube-system: %v", err)
		}
	})
}
