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

// Package node runs a one-node Kubernetes cluster on this machine for
// tests: etcd, kube-apiserver (RBAC, the Node authorizer, ServiceAccount
// tokens), kube-controller-manager, kube-scheduler, containerd, the
// kubelet and kube-proxy, as children of the calling process that die
// with it. Pods join a bridge whose addresses exist only on this machine,
// and nothing they send is forwarded off it. Everything the cluster
// changes outside its directory (the bridge, iptables chains, cgroups,
// kernel settings) is recorded before it is changed and put back by Stop,
// or by the next Start when the process was killed.
//
// StartContainerd runs a containerd alone, for tests of images.
package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Namespace is the containerd namespace a kubelet's containers live in.
const Namespace = "k8s.io"

// Containerd is a running containerd daemon.
type Containerd struct {
	assets string // the directory of containerd, its shim and ctr
	dir    string // root, state, socket and log
	socket string
	// cgroups are the namespace's cgroup directories runc will make, which
	// did not exist before, to remove at the end.
	cgroups []string
}

// StartContainerd starts containerd from assets (the directory
// hack/node-assets.sh prints) and stops it, unmounting what it mounted,
// when t ends. runc must be on PATH.
func StartContainerd(t testing.TB, assets string) *Containerd {
	t.Helper()
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		_, err := os.Stat(filepath.Join(assets, bin))
		require.NoError(t, err, "no %s in %s: run `make node-assets`", bin, assets)
	}
	_, err := exec.LookPath("runc")
	require.NoError(t, err, "no runc on PATH: run hack/install-node-packages.sh (Debian's runc)")
	dir, err := os.MkdirTemp("", "rekomi-containerd-")
	require.NoError(t, err)
	c := &Containerd{assets: assets, dir: dir, socket: filepath.Join(dir, "containerd.sock"), cgroups: newCgroups(t)}
	config := fmt.Sprintf("version = 3\nroot = %q\nstate = %q\ndisabled_plugins = ['io.containerd.internal.v1.opt']\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.socket, c.socket+".ttrpc")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600))
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	require.NoError(t, err)

	cmd := exec.Command(filepath.Join(assets, "containerd"), "--config", filepath.Join(dir, "config.toml"))
	cmd.Env = c.env()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { c.stop(t, cmd, exited, logFile) })

	require.Eventually(t, func() bool {
		select {
		case err := <-exited:
			exited <- err
			return true
		default:
		}
		_, err := c.ctr(context.Background(), "version")
		return err == nil
	}, time.Minute, 50*time.Millisecond, "containerd answers on its socket")
	select {
	case err := <-exited:
		t.Fatalf("containerd exited: %v; its log:\n%s", err, readFile(filepath.Join(dir, "containerd.log")))
	default:
	}
	return c
}

// env is the environment of containerd and ctr: the assets first on PATH,
// so containerd finds its shim.
func (c *Containerd) env() []string {
	return append(os.Environ(), "PATH="+c.assets+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// stop ends containerd and its shims, then unmounts and removes what it
// left under its directory.
func (c *Containerd) stop(t testing.TB, cmd *exec.Cmd, exited chan error, logFile *os.File) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	_ = logFile.Close()
	mounts, err := os.ReadFile("/proc/self/mounts")
	require.NoError(t, err)
	for _, line := range strings.Split(string(mounts), "\n") {
		if fields := strings.Fields(line); len(fields) > 1 && strings.HasPrefix(fields[1], c.dir) {
			require.NoError(t, syscall.Unmount(fields[1], syscall.MNT_DETACH), "unmounting %s", fields[1])
		}
	}
	require.NoError(t, os.RemoveAll(c.dir))
	for _, cg := range c.cgroups {
		if err := os.Remove(cg); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("removing the cgroup %s runc made: %v", cg, err)
		}
	}
}

// newCgroups lists the cgroup directories of Namespace, one per mounted
// hierarchy, that do not exist yet: runc makes them for the first
// container and leaves them behind.
func newCgroups(t testing.TB) []string {
	t.Helper()
	hierarchies, err := filepath.Glob("/sys/fs/cgroup/*")
	require.NoError(t, err)
	var missing []string
	for _, h := range hierarchies {
		cg := filepath.Join(h, Namespace)
		if _, err := os.Stat(cg); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, cg)
		}
	}
	return missing
}

// Ctr runs ctr against this containerd in the kubelet's namespace and
// returns its standard output; an error carries both outputs.
func (c *Containerd) Ctr(ctx context.Context, args ...string) (string, error) {
	return c.ctr(ctx, append([]string{"-n", Namespace}, args...)...)
}

func (c *Containerd) ctr(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.assets, "ctr"), append([]string{"--address", c.socket}, args...)...)
	cmd.Env = c.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ctr %s: %w: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// Import imports an image tarball, such as `make images` writes.
func (c *Containerd) Import(t testing.TB, tarball string) {
	t.Helper()
	out, err := c.Ctr(context.Background(), "images", "import", tarball)
	require.NoError(t, err, out)
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
