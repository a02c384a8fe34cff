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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers/webhooksecret"
)

// fieldOwner is the server-side apply manager of these tests.
const fieldOwner = client.FieldOwner("rekomi-manifests-test")

// TestDefaultInstallPassesServerSideDryRun renders config/default as
// `kubectl kustomize config/default` does and applies every object with a
// server-side dry run: schemas, RBAC rules and the Deployment must all be
// accepted by a real API server.
func TestDefaultInstallPassesServerSideDryRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", "config", "default"))
	require.NoError(t, err, "kustomize config/default")

	var objs []*unstructured.Unstructured
	kinds := map[string]int{}
	for _, r := range resources.Resources() {
		m, err := r.Map()
		require.NoError(t, err)
		u := &unstructured.Unstructured{Object: m}
		objs = append(objs, u)
		kinds[u.GetKind()]++
	}
	require.Equal(t, 3, kinds["CustomResourceDefinition"], "the three CRDs")
	require.Equal(t, 1, kinds["Deployment"], "the manager Deployment")
	require.Equal(t, 1, kinds["Service"], "the metrics Service")
	require.Equal(t, 2, kinds["ValidatingAdmissionPolicy"], "the tenant namespace and region admin Secret policies")
	require.Equal(t, 2, kinds["ValidatingAdmissionPolicyBinding"], "their bindings")
	requireOperatorNamespaceLabelled(t, objs)

	// A dry run does not create the namespace, and namespaced objects need it.
	for _, u := range objs {
		if u.GetKind() == "Namespace" {
			require.NoError(t, client.IgnoreAlreadyExists(testEnv.client.Create(ctx, u.DeepCopy())))
		}
	}
	for _, u := range objs {
		err := testEnv.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			fieldOwner, client.ForceOwnership, client.DryRunAll)
		require.NoError(t, err, "server-side dry-run apply of %s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	}
	requireHardenedManager(t, objs)
}

// requireOperatorNamespaceLabelled checks that the install labels the
// manager's namespace as the operator's, which the region admin Secret policy
// reads as its parameter: without it, every Region would be refused.
func requireOperatorNamespaceLabelled(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var namespaces []string
	for _, u := range objs {
		if u.GetKind() == "Namespace" && u.GetLabels()[v1.OperatorNamespaceLabel] == "true" {
			namespaces = append(namespaces, u.GetName())
		}
		if u.GetKind() == "Deployment" {
			require.Equal(t, "rekomi-system", u.GetNamespace())
		}
	}
	require.Equal(t, []string{"rekomi-system"}, namespaces)
}

// requireHardenedManager checks the manager Deployment runs as non-root with a
// read-only root filesystem, probes and leader election.
func requireHardenedManager(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		var d struct {
			Spec struct {
				Template struct {
					Spec corev1.PodSpec `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		raw, err := u.MarshalJSON()
		require.NoError(t, err)
		require.NoError(t, utilyaml.Unmarshal(raw, &d))
		pod := d.Spec.Template.Spec
		require.NotNil(t, pod.SecurityContext.RunAsNonRoot)
		require.True(t, *pod.SecurityContext.RunAsNonRoot)
		require.Len(t, pod.Containers, 1)
		c := pod.Containers[0]
		require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
		require.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
		require.NotNil(t, c.LivenessProbe)
		require.NotNil(t, c.ReadinessProbe)
		require.Contains(t, c.Args, "--leader-elect")
		require.Equal(t, []string{"manager"}, c.Args[:1])
		// The manager knows its own namespace from the downward API.
		var operatorNamespace *corev1.EnvVar
		for i := range c.Env {
			if c.Env[i].Name == "OPERATOR_NAMESPACE" {
				operatorNamespace = &c.Env[i]
			}
		}
		require.NotNil(t, operatorNamespace, "the manager is not told its namespace")
		require.Equal(t, "metadata.namespace", operatorNamespace.ValueFrom.FieldRef.FieldPath)
	}
}

// TestSamplesPassServerSideDryRun applies every object of config/samples with
// a server-side dry run, so the samples stay valid against the CRDs.
func TestSamplesPassServerSideDryRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
	require.NoError(t, err)
	kinds := map[string][]string{}
	secrets := map[string]map[string]any{} // namespace/name -> stringData
	endpoints := map[string][2]string{}    // name -> provider, namespace/secret
	for _, file := range files {
		for _, u := range readObjects(t, file) {
			kinds[u.GetKind()] = append(kinds[u.GetKind()], u.GetName())
			switch u.GetKind() {
			case "Secret":
				data, _, _ := unstructured.NestedMap(u.Object, "stringData")
				secrets[u.GetNamespace()+"/"+u.GetName()] = data
			case "WebhookEndpoint":
				provider, _, _ := unstructured.NestedString(u.Object, "spec", "provider")
				ref, _, _ := unstructured.NestedString(u.Object, "spec", "secretRef", "name")
				endpoints[u.GetName()] = [2]string{provider, u.GetNamespace() + "/" + ref}
			}
			if u.GetKind() == "Namespace" {
				// A dry run does not create it, and the objects after it need it.
				require.NoError(t, client.IgnoreAlreadyExists(testEnv.client.Create(ctx, u.DeepCopy())))
				continue
			}
			err := testEnv.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
				fieldOwner, client.ForceOwnership, client.DryRunAll)
			require.NoError(t, err, "%s: %s %s", file, u.GetKind(), u.GetName())
		}
	}
	require.ElementsMatch(t, []string{"us", "eu"}, kinds["Region"])
	require.Len(t, kinds["Organization"], 2)
	require.ElementsMatch(t, []string{"acme-stripe", "acme-clerk", "acme-paddle", "acme-shopify", "acme-braintree"}, kinds["WebhookEndpoint"])
	for name, ep := range endpoints {
		data := map[string][]byte{}
		for k, v := range secrets[ep[1]] {
			data[k] = []byte(fmt.Sprint(v))
		}
		_, err := webhooksecret.Parse(v1.Provider(ep[0]), data)
		require.NoError(t, err, "the sample Secret of %s holds a %s signing secret", name, ep[0])
	}
}

func readObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err, file)
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}
