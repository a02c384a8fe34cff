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

package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/pgserver"
)

// stopTimeout bounds the stop of each process.
const stopTimeout = 30 * time.Second

// startPostgres starts one server per Region, since every Region creates
// the same role names, which are global to a server; each keeps its data
// under postgres/<region> in the state directory. It returns each Region's
// admin URL.
func (s *Stack) startPostgres(ctx context.Context, opts Options, regions []string) (map[string]string, error) {
	urls := map[string]string{}
	for _, region := range regions {
		log, err := openLog(opts.Dir, "postgres-"+region)
		if err != nil {
			return nil, err
		}
		s.stops = append(s.stops, func() { _ = log.Close() })
		srv, err := startRegionPostgres(ctx, opts, region, log)
		if err != nil {
			return nil, err
		}
		s.stops = append(s.stops, func() {
			ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			_ = srv.Stop(ctx)
		})
		urls[region] = srv.URL()
	}
	return urls, nil
}

// startRegionPostgres starts a Region's server on its data in the state
// directory or, when the postgres user (as whom PostgreSQL runs for root)
// cannot reach the state directory, as with a work tree under a 0700 /root,
// on its data in the outside directory kept for this state directory.
func startRegionPostgres(ctx context.Context, opts Options, region string, log io.Writer) (*pgserver.Server, error) {
	settings := map[string]string{"max_connections": "200"}
	dir, err := filepath.Abs(filepath.Join(opts.Dir, "postgres", region))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Log: log, Settings: settings})
	if !errors.Is(err, pgserver.ErrDirUnreachable) {
		return srv, wrapRegion(region, err)
	}
	outside, err := outsidePostgresDir(opts)
	if err != nil {
		return nil, err
	}
	dir = filepath.Join(outside, region)
	if err := os.MkdirAll(outside, 0o755); err != nil {
		return nil, fmt.Errorf("region %s: making %s: %w", region, outside, err)
	}
	srv, err = pgserver.Start(ctx, pgserver.Options{Dir: dir, Log: log, Settings: settings})
	if errors.Is(err, pgserver.ErrDirUnreachable) {
		return nil, fmt.Errorf("region %s: %w; give rekomi dev a --dir that user can reach: `make dev DEV_FLAGS='--dir /var/tmp/rekomi-dev'`", region, err)
	}
	return srv, wrapRegion(region, err)
}

// outsidePostgresDir is where PostgreSQL keeps its data for a state
// directory the postgres user cannot reach: a directory of its own under
// Options.OutsideDir (/var/tmp by default, which survives reboots), named
// after the state directory's absolute path, so that every start on the
// same state directory finds the same data.
func outsidePostgresDir(opts Options) (string, error) {
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return "", err
	}
	base := opts.OutsideDir
	if base == "" {
		base = "/var/tmp"
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(base, "rekomi-dev-"+hex.EncodeToString(sum[:6]), "postgres"), nil
}

func wrapRegion(region string, err error) error {
	if err != nil {
		return fmt.Errorf("region %s: %w", region, err)
	}
	return nil
}

// startControlPlane starts kube-apiserver and etcd, whose data is kept in
// the state directory, with the CRDs and the admission policies of
// config/admission installed, and writes a kubeconfig of a cluster admin.
func (s *Stack) startControlPlane(ctx context.Context, opts Options) error {
	assets, err := assetsDir(opts)
	if err != nil {
		return err
	}
	scheme, err := newScheme()
	if err != nil {
		return err
	}
	etcdDir, err := filepath.Abs(filepath.Join(opts.Dir, "etcd"))
	if err != nil {
		return err
	}
	if err := checkEtcdDataFree(etcdDir); err != nil {
		return err
	}
	plane := envtest.ControlPlane{Etcd: &envtest.Etcd{DataDir: etcdDir}, APIServer: &envtest.APIServer{}}
	if opts.Executable != "" {
		bin := filepath.Join(filepath.Dir(etcdDir), "bin")
		if plane.Etcd.Path, plane.APIServer.Path, err = guardBinaries(bin, opts.Executable, assets); err != nil {
			return err
		}
	}
	te := &envtest.Environment{
		ControlPlane:          plane,
		CRDDirectoryPaths:     []string{filepath.Join(opts.RepoDir, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
		UseExistingCluster:    ptr.To(false),
		Scheme:                scheme,
	}
	cfg, err := te.Start()
	if err != nil {
		return fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	s.stops = append(s.stops, func() { _ = te.Stop() })
	cfg.QPS, cfg.Burst = 500, 1000
	s.config = cfg
	if s.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	user, err := te.ControlPlane.AddUser(envtest.User{Name: "dev-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding a kubeconfig user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	s.Kubeconfig, err = filepath.Abs(filepath.Join(opts.Dir, "kubeconfig"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	return s.applyKustomization(ctx, filepath.Join(opts.RepoDir, "config", "admission"))
}

// applyKustomization renders dir as `kubectl kustomize` does and creates or
// updates every object: the admission policies a cluster install carries,
// so that this control plane refuses what a real one would.
func (s *Stack) applyKustomization(ctx context.Context, dir string) error {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", dir, err)
	}
	for _, r := range resources.Resources() {
		m, err := r.Map()
		if err != nil {
			return fmt.Errorf("rendering %s: %w", dir, err)
		}
		obj := &unstructured.Unstructured{Object: m}
		if err := s.createOrUpdate(ctx, obj); err != nil {
			return fmt.Errorf("applying %s %s from %s: %w", obj.GetKind(), obj.GetName(), dir, err)
		}
	}
	return nil
}

// assetsDir is where kube-apiserver and etcd are, built once by
// hack/envtest-assets.sh when not given.
func assetsDir(opts Options) (string, error) {
	if opts.Assets != "" {
		return opts.Assets, nil
	}
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(opts.RepoDir, "hack", "envtest-assets.sh"))
	cmd.Dir = opts.RepoDir
	cmd.Stderr = opts.Out
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the control-plane binaries (hack/envtest-assets.sh): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func newScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := rekomiv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}

// startManager runs the operator in-process; its log goes to a file.
func (s *Stack) startManager(ctx context.Context, opts Options) error {
	log, err := openLog(opts.Dir, "manager")
	if err != nil {
		return err
	}
	s.stops = append(s.stops, func() { _ = log.Close() })
	s.goRun(ctx, "operator", func(ctx context.Context) error { return opts.RunManager(ctx, s.config, log) })
	return nil
}

// openLog creates (or truncates) a log file under the state directory.
func openLog(dir, name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	return f, nil
}
