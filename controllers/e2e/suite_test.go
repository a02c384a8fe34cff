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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/pgserver"
)

// operatorNamespace is where the manager runs, as config/default installs
// it, and where the sample Regions' admin Secrets live.
const operatorNamespace = "rekomi-system"

// suite is what every test here shares: a control plane, one PostgreSQL
// server per sample Region, and the built binary.
type suite struct {
	config     *rest.Config // a cluster admin's
	client     client.WithWatch
	kubeconfig string
	// managerKubeconfig reaches the control plane as the manager's
	// ServiceAccount, with the rights config/default gives it.
	managerKubeconfig string
	binary            string
	pgURLs            map[string]string // Region name -> admin URL of its server
	dir               string
}

var env *suite

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	s, stop, err := start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer stop()
	env = s
	return m.Run()
}

func start() (*suite, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	dir, err := os.MkdirTemp("", "rekomi-e2e-")
	if err != nil {
		return nil, stop, err
	}
	stops = append(stops, func() { os.RemoveAll(dir) })
	s := &suite{dir: dir, binary: filepath.Join(dir, "rekomi"), pgURLs: map[string]string{}}

	build := exec.Command("go", "build", "-o", s.binary, "github.com/rekomi/rekomi")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, stop, fmt.Errorf("building rekomi: %w: %s", err, out)
	}

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		out, err := exec.Command(filepath.Join("..", "..", "hack", "envtest-assets.sh")).Output()
		if err != nil {
			return nil, stop, fmt.Errorf("no KUBEBUILDER_ASSETS and hack/envtest-assets.sh failed (%w): run `make test`", err)
		}
		assets = strings.TrimSpace(string(out))
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, stop, err
	}
	if err := rekomiv1.AddToScheme(scheme); err != nil {
		return nil, stop, err
	}
	te := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		Scheme:                scheme,
	}
	cfg, err := te.Start()
	if err != nil {
		return nil, stop, fmt.Errorf("starting the control plane: %w", err)
	}
	stops = append(stops, func() { _ = te.Stop() })
	cfg.QPS, cfg.Burst = 500, 1000
	if s.client, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, stop, err
	}
	user, err := te.ControlPlane.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, stop, fmt.Errorf("adding a kubeconfig user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, stop, err
	}
	s.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(s.kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, stop, err
	}
	s.config = cfg
	// The admission policies of an install, and the role the built-in edit
	// role aggregates for WebhookEndpoints.
	for _, dir := range []string{filepath.Join("..", "..", "config", "admission")} {
		if err := s.applyKustomization(dir); err != nil {
			return nil, stop, err
		}
	}
	// The operator's namespace, labelled as config/manager labels it.
	if err := s.client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: operatorNamespace, Labels: map[string]string{rekomiv1.OperatorNamespaceLabel: "true"},
	}}); err != nil {
		return nil, stop, fmt.Errorf("creating the operator's namespace: %w", err)
	}
	if err := s.installManagerRBAC(); err != nil {
		return nil, stop, err
	}
	if err := s.writeManagerKubeconfig(kubeconfig); err != nil {
		return nil, stop, err
	}

	// One server per Region: each sample Region uses the database "rekomi"
	// and the roles rekomi and rekomi_app, as separate installs would.
	for _, region := range []string{"us", "eu"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		srv, err := pgserver.Start(ctx, pgserver.Options{Settings: map[string]string{"fsync": "off", "max_connections": "200"}})
		cancel()
		if err != nil {
			return nil, stop, fmt.Errorf("starting PostgreSQL for region %s: %w (fix: run `make postgres`)", region, err)
		}
		stops = append(stops, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = srv.Stop(ctx)
		})
		s.pgURLs[region] = srv.URL()
	}
	return s, stop, nil
}
