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
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// managerUser is the manager's ServiceAccount as config/default installs
// it, and the groups the API server gives a ServiceAccount.
const managerUser = "system:serviceaccount:" + operatorNamespace + ":rekomi-manager"

var managerGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + operatorNamespace, "system:authenticated"}

// rbacKinds are the objects of config/default that give the manager its
// rights.
var rbacKinds = []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

// installManagerRBAC creates the manager's ServiceAccount and the roles and
// bindings of config/default, as an install does.
func (s *suite) installManagerRBAC() error {
	dir := filepath.Join("..", "..", "config", "default")
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", dir, err)
	}
	for _, r := range resources.Resources() {
		if !slices.Contains(rbacKinds, r.GetKind()) {
			continue
		}
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

// writeManagerKubeconfig writes a kubeconfig that reaches the control plane
// as the manager's ServiceAccount (the cluster admin impersonating it), so
// that the manager the tests run has the rights of an install and no more.
func (s *suite) writeManagerKubeconfig(adminKubeconfig []byte) error {
	cfg, err := clientcmd.Load(adminKubeconfig)
	if err != nil {
		return fmt.Errorf("reading the admin kubeconfig: %w", err)
	}
	for _, user := range cfg.AuthInfos {
		user.Impersonate = managerUser
		user.ImpersonateGroups = managerGroups
	}
	s.managerKubeconfig = filepath.Join(s.dir, "manager.kubeconfig")
	return clientcmd.WriteToFile(*cfg, s.managerKubeconfig)
}

// allowList is testdata/manager_rights.yaml: every right the manager's
// ServiceAccount may hold, as "verb group/resource" for resources and
// "verb url" for non-resource URLs.
type allowList struct {
	Everywhere        []string `json:"everywhere"`
	OperatorNamespace []string `json:"operatorNamespace"`
	NonResource       []string `json:"nonResource"`
}

func readAllowList(t *testing.T) allowList {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manager_rights.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var a allowList
	if err := yaml.UnmarshalStrict(data, &a); err != nil {
		t.Fatalf("testdata/manager_rights.yaml: %v", err)
	}
	return a
}

// TestManagerRights lists what the manager's ServiceAccount may do, as the
// API server answers a SelfSubjectRulesReview made as that account, in its
// own namespace, in a Region's and in kube-system, and fails on any right
// beyond testdata/manager_rights.yaml; then it asks for the rights an
// attacker holding the manager's token would want most, each of which
// must be refused.
func TestManagerRights(t *testing.T) {
	ctx := context.Background()
	allowed := readAllowList(t)
	manager := impersonateManager(t)

	for _, ns := range []string{operatorNamespace, "rekomi-us", "kube-system"} {
		t.Run("NothingBeyondTheAllowListIn/"+ns, func(t *testing.T) {
			review := &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}
			if err := manager.Create(ctx, review); err != nil {
				t.Fatal(err)
			}
			if review.Status.Incomplete {
				t.Fatalf("the rules review is incomplete: %s", review.Status.EvaluationError)
			}
			want := allowed.Everywhere
			if ns == operatorNamespace {
				want = append(slices.Clone(want), allowed.OperatorNamespace...)
			}
			var beyond []string
			for _, right := range resourceRights(review.Status.ResourceRules) {
				if !slices.Contains(want, right) {
					beyond = append(beyond, right)
				}
			}
			for _, right := range nonResourceRights(review.Status.NonResourceRules) {
				if !slices.Contains(allowed.NonResource, right) {
					beyond = append(beyond, right)
				}
			}
			if len(beyond) > 0 {
				t.Fatalf("the manager may do more in %s than testdata/manager_rights.yaml allows:\n%s", ns, strings.Join(beyond, "\n"))
			}
		})
	}

	t.Run("NoWayToOtherIdentitiesOrNodes", func(t *testing.T) {
		for _, attr := range forbiddenToTheManager() {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: managerUser, Groups: managerGroups, ResourceAttributes: &attr,
			}}
			if err := env.client.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed {
				t.Errorf("the manager may %s %s/%s in %q", attr.Verb, attr.Resource, attr.Subresource, attr.Namespace)
			}
		}
	})
}

// forbiddenToTheManager are rights that would turn the manager's token into
// another identity's or a node's: exec into pods, mint tokens, impersonate,
// grant roles, read nodes, run pods directly, or bind a namespace to an
// organization.
func forbiddenToTheManager() []authorizationv1.ResourceAttributes {
	var out []authorizationv1.ResourceAttributes
	for _, ns := range []string{operatorNamespace, "rekomi-us", "kube-system"} {
		out = append(out,
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "exec"},
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "pods", Subresource: "exec"},
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Resource: "pods"},
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Resource: "serviceaccounts", Subresource: "token"},
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "roles"},
			authorizationv1.ResourceAttributes{Namespace: ns, Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "roles"},
		)
	}
	return append(out,
		authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "users"},
		authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "groups"},
		authorizationv1.ResourceAttributes{Verb: "impersonate", Resource: "serviceaccounts"},
		authorizationv1.ResourceAttributes{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		authorizationv1.ResourceAttributes{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		authorizationv1.ResourceAttributes{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		authorizationv1.ResourceAttributes{Verb: "get", Resource: "nodes"},
		authorizationv1.ResourceAttributes{Verb: "list", Resource: "nodes"},
		authorizationv1.ResourceAttributes{Verb: "update", Resource: "namespaces"},
		authorizationv1.ResourceAttributes{Verb: "patch", Resource: "namespaces"},
	)
}

// resourceRights expands rules into "verb group/resource" entries, with
// "[names]" appended when a rule is limited to some objects.
func resourceRights(rules []authorizationv1.ResourceRule) []string {
	var out []string
	for _, r := range rules {
		names := ""
		if len(r.ResourceNames) > 0 {
			names = " [" + strings.Join(r.ResourceNames, ",") + "]"
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, fmt.Sprintf("%s %s/%s%s", v, g, res, names))
				}
			}
		}
	}
	return out
}

// nonResourceRights expands rules into "verb url" entries.
func nonResourceRights(rules []authorizationv1.NonResourceRule) []string {
	var out []string
	for _, r := range rules {
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				out = append(out, v+" "+u)
			}
		}
	}
	return out
}

// impersonateManager is a client of the control plane acting as the
// manager's ServiceAccount.
func impersonateManager(t *testing.T) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: managerUser, Groups: managerGroups}
	c, err := client.New(cfg, client.Options{Scheme: env.client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
