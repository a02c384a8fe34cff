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
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestEveryFieldIsDocumented walks the generated CRD schemas: every field
// must carry a description, so that `kubectl explain` documents all of them.
func TestEveryFieldIsDocumented(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "config", "crd", "bases", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		var crd apiextensionsv1.CustomResourceDefinition
		require.NoError(t, yaml.UnmarshalStrict(data, &crd), file)
		for _, v := range crd.Spec.Versions {
			var undocumented []string
			collectUndocumented(crd.Spec.Names.Kind, v.Schema.OpenAPIV3Schema, &undocumented)
			sort.Strings(undocumented)
			require.Empty(t, undocumented, "%s %s: fields without a doc comment", crd.Name, v.Name)
		}
	}
}

func collectUndocumented(path string, s *apiextensionsv1.JSONSchemaProps, out *[]string) {
	if s == nil {
		return
	}
	for name, prop := range s.Properties {
		p := path + "." + name
		// metadata is documented by Kubernetes itself.
		if prop.Description == "" && name != "metadata" {
			*out = append(*out, p)
		}
		collectUndocumented(p, &prop, out)
	}
	if s.Items != nil {
		collectUndocumented(path+"[]", s.Items.Schema, out)
	}
	if s.AdditionalProperties != nil {
		collectUndocumented(path+"{}", s.AdditionalProperties.Schema, out)
	}
}
