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
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultDir is where a cluster keeps its state unless told otherwise.
const DefaultDir = "/var/tmp/rekomi-node"

// PauseImage is the pod sandbox image the kubelet uses; `make images`
// writes it as pause.tar.
const PauseImage = "rekomi.local/pause:3.10"

// Options configure a cluster.
type Options struct {
	// ControlPlane holds etcd and kube-apiserver (the directory
	// hack/envtest-assets.sh prints).
	ControlPlane string
	// Node holds the kubelet, kube-controller-manager, kube-scheduler,
	// kube-proxy, containerd and its shim and ctr (the directory
	// hack/node-assets.sh prints).
	Node string
	// Images are image tarballs imported before the kubelet starts; one of
	// them must hold PauseImage.
	Images []string
	// Dir keeps the cluster's state, certificates and logs; empty means
	// DefaultDir. A cluster left there by a killed process is undone
	// first.
	Dir string
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// OnLocked, when set, runs once the cluster holds the machine (no
	// other runs) and has undone any killed one, before it changes
	// anything: where a test looks at the machine as the cluster found it.
	OnLocked func()
	// OnUndone, when set, runs once Stop has put the machine back, before
	// another cluster may start: where a test looks at it again.
	OnUndone func()
}

// Cluster is a running one-node cluster.
type Cluster struct {
	// Kubeconfig is the path of an admin's kubeconfig (system:masters).
	Kubeconfig string
	// Config is the admin's client configuration.
	Config *rest.Config
	// Containerd is the node's container runtime.
	Containerd *Containerd
	// Ready is how long the start took until the node was Ready.
	Ready time.Duration

	dir       string
	onUndone  func()
	host      *hostRecord
	processes []*process
	lock      *os.File
}

// Start starts a cluster and returns once its node is Ready. Stop it
// when done; if this process dies first, its components die with it and
// the next Start in the same directory undoes what they left.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if err := checkAssets(opts); err != nil {
		return nil, err
	}
	lock, err := lockDir(ctx, opts.Dir, opts.Progress)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	c = &Cluster{dir: opts.Dir, lock: lock, onUndone: opts.OnUndone}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	fmt.Fprintf(opts.Progress, "node: preparing %s, the bridge %s (%s) and the cgroup root\n", opts.Dir, BridgeName, PodCIDR)
	if c.host, err = prepareHost(opts.Dir, filepath.Join(opts.Node, "kube-proxy"), opts.OnLocked); err != nil {
		return nil, err
	}
	s, err := c.writeSetup(opts)
	if err != nil {
		return nil, err
	}
	for _, step := range c.steps(opts, s) {
		fmt.Fprintf(opts.Progress, "node: %s\n", step.name)
		if err := step.run(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
	}
	c.Ready = time.Since(began)
	fmt.Fprintf(opts.Progress, "node: %s Ready %.1f s after the start\n", NodeIP, c.Ready.Seconds())
	return c, nil
}

// step is one stage of a start.
type step struct {
	name string
	run  func(context.Context) error
}

// steps are the stages of a start, in order.
func (c *Cluster) steps(opts Options, s *setup) []step {
	cp, node := opts.ControlPlane, opts.Node
	return []step{
		{"starting etcd", func(ctx context.Context) error {
			return c.start(ctx, "etcd", filepath.Join(cp, "etcd"), s.etcdArgs(), c.etcdHealthy)
		}},
		{"starting kube-apiserver", func(ctx context.Context) error {
			return c.start(ctx, "kube-apiserver", filepath.Join(cp, "kube-apiserver"), s.apiServerArgs(), c.apiServerReady)
		}},
		{"starting kube-controller-manager and kube-scheduler", func(ctx context.Context) error {
			if err := c.start(ctx, "kube-controller-manager", filepath.Join(node, "kube-controller-manager"), s.controllerManagerArgs(), nil); err != nil {
				return err
			}
			return c.start(ctx, "kube-scheduler", filepath.Join(node, "kube-scheduler"), s.schedulerArgs(), nil)
		}},
		{"starting containerd and importing the images", func(ctx context.Context) error {
			var err error
			if c.Containerd, err = c.startContainerd(ctx, node, s); err != nil {
				return err
			}
			for _, tarball := range opts.Images {
				if out, err := c.Containerd.Ctr(ctx, "images", "import", tarball); err != nil {
					return fmt.Errorf("%w: %s", err, out)
				}
			}
			return nil
		}},
		{"starting the kubelet and kube-proxy", func(ctx context.Context) error {
			if err := c.start(ctx, "kubelet", filepath.Join(node, "kubelet"), s.kubeletArgs(), nil); err != nil {
				return err
			}
			return c.start(ctx, "kube-proxy", filepath.Join(node, "kube-proxy"), s.kubeProxyArgs(), nil)
		}},
		{"waiting for the node to be Ready", c.nodeReady},
	}
}

// start runs a component and waits until ready reports it ready (nil:
// until it has not exited for a moment).
func (c *Cluster) start(ctx context.Context, name, path string, args []string, ready func(context.Context) error) error {
	p, err := startProcess(name, filepath.Join(c.dir, "logs"), os.Environ(), path, args...)
	if err != nil {
		return err
	}
	c.processes = append(c.processes, p)
	if ready == nil {
		return p.running()
	}
	return c.poll(ctx, 2*time.Minute, func(ctx context.Context) error {
		if err := p.running(); err != nil {
			return backoffStop{err}
		}
		return ready(ctx)
	})
}

// backoffStop ends a poll at once.
type backoffStop struct{ error }

// poll calls check every 100 ms until it returns nil, returns a
// backoffStop, or timeout passes; the error says what check said last.
func (c *Cluster) poll(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		var stop backoffStop
		switch {
		case err == nil:
			return nil
		case errors.As(err, &stop):
			return stop.error
		}
		for _, p := range c.processes {
			if perr := p.running(); perr != nil {
				return perr
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

func (c *Cluster) etcdHealthy(ctx context.Context) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(loopbackIP, "2379"))
	if err != nil {
		return err
	}
	return conn.Close()
}

func (c *Cluster) apiServerReady(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("%w: %s", err, body)
	}
	return nil
}

// nodeReady waits until the node is registered and Ready.
func (c *Cluster) nodeReady(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	return c.poll(ctx, 2*time.Minute, func(ctx context.Context) error {
		n, err := client.CoreV1().Nodes().Get(ctx, NodeIP, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
			if cond.Type == corev1.NodeReady {
				return fmt.Errorf("node not Ready: %s: %s", cond.Reason, cond.Message)
			}
		}
		return errors.New("node has no Ready condition yet")
	})
}

// Log is the end of a component's log, for a failing test's message.
func (c *Cluster) Log(component string, lines int) string {
	return tail(filepath.Join(c.dir, "logs", component+".log"), lines)
}

// Stop stops every component, kills the containers, and puts the machine
// back as Start found it.
func (c *Cluster) Stop() error {
	for i := len(c.processes) - 1; i >= 0; i-- {
		c.processes[i].stop(15 * time.Second)
	}
	c.processes = nil
	var err error
	if c.host != nil {
		err = c.host.undo()
		c.host = nil
	}
	if c.onUndone != nil && c.lock != nil {
		c.onUndone()
	}
	if c.lock != nil {
		_ = c.lock.Close()
		c.lock = nil
	}
	return err
}

// lockDir takes the lock of the cluster in dir, waiting while another
// process holds it: one cluster per directory, and per machine since they
// share the bridge. The kernel releases it when its holder dies.
func lockDir(ctx context.Context, dir string, progress io.Writer) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the cluster's lock: %w", err)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for said := false; ; said = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s.lock: %w", dir, err)
		}
		if !said {
			fmt.Fprintf(progress, "node: waiting for the cluster another process runs in %s to stop\n", dir)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("another cluster runs in %s (its lock %s.lock is held): %w", dir, dir, ctx.Err())
		case <-tick.C:
		}
	}
}

// checkAssets fails, saying how to fix it, when a binary is missing.
func checkAssets(opts Options) error {
	var missing []string
	for dir, names := range map[string][]string{
		opts.ControlPlane: {"etcd", "kube-apiserver"},
		opts.Node:         {"kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr"},
	} {
		for _, name := range names {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				missing = append(missing, filepath.Join(dir, name))
			}
		}
	}
	for _, tool := range []string{"runc", "iptables", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" on PATH")
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, plugin)); err != nil {
			missing = append(missing, filepath.Join(cniBinDir, plugin))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: run `make envtest-assets node-assets` (hack/envtest-assets.sh, hack/node-assets.sh, hack/install-node-packages.sh)", strings.Join(missing, ", "))
	}
	return nil
}

// writeKubeconfig writes a kubeconfig for a client certificate.
func writeKubeconfig(path, server, ca string, pair certPair) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["node"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: ca}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificate: pair.Cert, ClientKey: pair.Key}
	cfg.Contexts["node"] = &clientcmdapi.Context{Cluster: "node", AuthInfo: "user"}
	cfg.CurrentContext = "node"
	return clientcmd.WriteToFile(*cfg, path)
}
