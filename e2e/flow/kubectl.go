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

package flow

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Kubectl runs the kubectl binary Bin against the control plane of the
// kubeconfig file Kubeconfig.
type Kubectl struct {
	Bin, Kubeconfig string
}

// FindKubectl finds kubectl as hack/kubectl.sh does: $KUBECTL, then the
// one on PATH, then one beside kube-apiserver in KUBEBUILDER_ASSETS, where
// that script builds it (and setup-envtest puts it).
func FindKubectl(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("KUBECTL"); bin != "" {
		return bin
	}
	if bin, err := exec.LookPath("kubectl"); err == nil {
		return bin
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		if _, err := os.Stat(filepath.Join(assets, "kubectl")); err == nil {
			return filepath.Join(assets, "kubectl")
		}
	}
	t.Fatal("no kubectl on PATH nor in KUBEBUILDER_ASSETS: run `make kubectl` (hack/kubectl.sh builds one there once), " +
		"install one (https://kubernetes.io/docs/tasks/tools/#kubectl), or set KUBECTL to a kubectl binary")
	return ""
}

// Run runs kubectl with args and stdin and returns what it printed,
// failing t when it fails.
func (k Kubectl) Run(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := k.Output(t.Context(), stdin, args...)
	require.NoError(t, err)
	return out
}

// Output runs kubectl with args and stdin, for at most 3 minutes, and
// returns what it printed; an error carries what it printed to stderr.
func (k Kubectl) Output(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := k.Command(ctx, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// Command is kubectl with args on k's cluster, killed when ctx is done,
// for a caller that reads its output as it comes.
func (k Kubectl) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.Bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig)
	return cmd
}

// Get prints one field of an object (in namespace, unless empty) with a
// JSONPath template.
func (k Kubectl) Get(t testing.TB, namespace, object, jsonPath string) string {
	t.Helper()
	args := []string{"get", object, "-o", "jsonpath={" + jsonPath + "}"}
	if namespace != "" {
		args = append([]string{"-n", namespace}, args...)
	}
	return k.Run(t, "", args...)
}

// SecretValue reads and decodes one key of a Secret.
func (k Kubectl) SecretValue(t testing.TB, namespace, name, key string) string {
	t.Helper()
	encoded := k.Get(t, namespace, "secret/"+name, ".data."+key)
	require.NotEmpty(t, encoded, "Secret %s/%s has no key %s", namespace, name, key)
	value, err := base64.StdEncoding.DecodeString(encoded)
	require.NoError(t, err)
	return string(value)
}
