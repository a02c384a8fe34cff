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

package node

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvOptions are the options of a cluster from what `make test` names in
// the environment: KUBEBUILDER_ASSETS, REKOMI_NODE_ASSETS and
// REKOMI_IMAGES (whose pause.tar and rekomi.tar are imported), with
// progress on stderr. A missing one fails t saying how to set it.
func EnvOptions(t testing.TB) Options {
	t.Helper()
	images := RequireEnv(t, "REKOMI_IMAGES", "run `make test` or `make e2e-cluster` (they run `make images`), or set it to bin/images after `make images`")
	return Options{
		ControlPlane: RequireEnv(t, "KUBEBUILDER_ASSETS", "run `make test`, or set it to the directory hack/envtest-assets.sh prints"),
		Node:         RequireEnv(t, "REKOMI_NODE_ASSETS", "run `make test` (it runs hack/node-assets.sh), or set it to the directory hack/node-assets.sh prints"),
		Images:       []string{filepath.Join(images, "pause.tar"), filepath.Join(images, "rekomi.tar")},
		Progress:     os.Stderr,
	}
}

// RequireEnv is the value of the environment variable name; when it is
// unset, t fails saying how to set it.
func RequireEnv(t testing.TB, name, how string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: %s", name, how)
	}
	return v
}
