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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rekomiv1alpha1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/pgserver"
)

// env is the control plane shared by the tests of this package: a real
// kube-apiserver and etcd with the CRDs of config/crd/bases installed.
type env struct {
	cfg    *rest.Config
	client client.Client
	scheme *runtime.Scheme
	// adminURL is a superuser URL of a throwaway PostgreSQL server, or of the
	// server at REKOMI_TEST_DATABASE_URL.
	adminURL string
}

var testEnv *env

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	assets, err := assetsDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envtest: %v\n", err)
		return 1
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintf(os.Stderr, "envtest: %v\n", err)
		return 1
	}
	if err := rekomiv1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintf(os.Stderr, "envtest: %v\n", err)
		return 1
	}
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
	}
	cfg, err := te.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envtest: starting the control plane from %s: %v\n", assets, err)
		return 1
	}
	defer func() {
		if err := te.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest: stopping the control plane: %v\n", err)
		}
	}()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "envtest: %v\n", err)
		return 1
	}
	adminURL, stopPG, err := startPostgres()
	if err != nil {
		fmt.Fprintf(os.Stderr, "postgres: %v\nfix: run `make postgres`, or set %s\n", err, dbtest.EnvURL)
		return 1
	}
	defer stopPG()
	testEnv = &env{cfg: cfg, client: c, scheme: scheme, adminURL: adminURL}
	return m.Run()
}

// startPostgres returns the server at REKOMI_TEST_DATABASE_URL, or starts a
// throwaway one and a function that stops it.
func startPostgres() (string, func(), error) {
	if u := os.Getenv(dbtest.EnvURL); u != "" {
		return u, func() {}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Settings: map[string]string{"fsync": "off", "max_connections": "300"}})
	if err != nil {
		return "", nil, err
	}
	return srv.URL(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "postgres: stopping: %v\n", err)
		}
	}, nil
}

// assetsDir finds kube-apiserver and etcd: KUBEBUILDER_ASSETS when set (make
// test sets it), otherwise hack/envtest-assets.sh builds or finds them.
func assetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	out, err := exec.CommandContext(context.Background(), filepath.Join("..", "hack", "envtest-assets.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("no KUBEBUILDER_ASSETS and hack/envtest-assets.sh failed (%w); "+
			"run `make test`, or `export KUBEBUILDER_ASSETS=$(hack/envtest-assets.sh)`", err)
	}
	return strings.TrimSpace(string(out)), nil
}
