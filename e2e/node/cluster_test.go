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

package node_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/rekomi/rekomi/e2e/node"
)

// TestCluster starts a one-node cluster, runs pods on it as a user's
// would run, and checks that stopping it leaves the machine as it was.
func TestCluster(t *testing.T) {
	image := node.RequireEnv(t, "REKOMI_IMAGE", "REKOMI_IMAGE names the image in $REKOMI_IMAGES/rekomi.tar, such as rekomi.local/rekomi:test")
	var before, after hostState
	opts := node.EnvOptions(t)
	opts.OnLocked = func() { before = snapshotHost(t) }
	opts.OnUndone = func() {
		after = snapshotHost(t)
		requireNothingLeft(t)
	}
	ctx := context.Background()
	c, err := node.Start(ctx, opts)
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			require.NoError(t, c.Stop())
		}
	})
	fmt.Printf("node_ready_warm %.1f s\n", c.Ready.Seconds())
	client, err := kubernetes.NewForConfig(c.Config)
	require.NoError(t, err)

	t.Run("RunsTheImageAsANonRootPod", func(t *testing.T) {
		pod := restrictedPod("version", image, "/rekomi", "version")
		_, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
		done := waitPod(t, client, pod.Name, func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		}, c)
		require.Equal(t, corev1.PodSucceeded, done.Status.Phase, "%+v", done.Status)
		ip := net.ParseIP(done.Status.PodIP)
		_, pods, _ := net.ParseCIDR(node.PodCIDR)
		require.True(t, pods.Contains(ip), "pod IP %s is on the bridge's network %s", ip, node.PodCIDR)
		// Logs come from the kubelet through the API server, each checking
		// the other's certificate.
		logs, err := client.CoreV1().Pods("default").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(logs), "rekomi "), "%q", logs)
	})

	t.Run("NeverPullsAnImage", func(t *testing.T) {
		pod := restrictedPod("missing", "rekomi.local/missing:1", "/missing")
		_, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		require.NoError(t, err)
		failed := waitPod(t, client, pod.Name, func(p *corev1.Pod) bool {
			s := p.Status.ContainerStatuses
			return len(s) == 1 && s[0].State.Waiting != nil && strings.Contains(s[0].State.Waiting.Message, "127.0.233.1:9")
		}, c)
		require.Contains(t, failed.Status.ContainerStatuses[0].State.Waiting.Message, "connection refused")
	})

	t.Run("ServesTheAPIThroughKubeProxy", func(t *testing.T) {
		// The kubernetes Service's address exists only in kube-proxy's
		// rules; reaching the API server through it from the machine
		// proves they are in place.
		cfg := *c.Config
		cfg.Host = "https://" + node.KubernetesServiceIP
		viaService, err := kubernetes.NewForConfig(&cfg)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := viaService.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			return err == nil
		}, time.Minute, 100*time.Millisecond, "the API server answers at its Service address")
	})

	require.NoError(t, c.Stop())
	stopped = true
	require.Equal(t, before, after, "the machine after the cluster stopped is as before it started")
}

// TestClusterAfterSIGKILL kills a process running a cluster, as a CI
// timeout would, and starts another in the same directory.
func TestClusterAfterSIGKILL(t *testing.T) {
	if os.Getenv("REKOMI_NODE_CHILD") == "1" {
		runChildCluster(t)
		return
	}
	child := exec.Command(os.Args[0], "-test.run=^TestClusterAfterSIGKILL$", "-test.v")
	child.Env = append(os.Environ(), "REKOMI_NODE_CHILD=1")
	child.Stderr = os.Stderr
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	scanner := bufio.NewScanner(stdout)
	ready := false
	for !ready && scanner.Scan() {
		ready = scanner.Text() == "child cluster ready"
	}
	require.True(t, ready, "the child's cluster started")
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	// The killed cluster left its bridge, processes and record. The next
	// start undoes them, this one's or another test's waiting for the
	// machine: either way nothing of it may be left when one is locked.

	opts := node.EnvOptions(t)
	var before, after hostState
	opts.OnLocked = func() {
		requireNothingLeft(t)
		before = snapshotHost(t)
	}
	opts.OnUndone = func() {
		after = snapshotHost(t)
		requireNothingLeft(t)
	}
	c, err := node.Start(context.Background(), opts)
	require.NoError(t, err, "a start after a killed cluster")
	require.NoError(t, c.Stop())
	require.Equal(t, before, after)
}

// requireNothingLeft checks that no part of a cluster is on the machine:
// no process, bridge, mount, cgroup, iptables chain or record.
func requireNothingLeft(t *testing.T) {
	t.Helper()
	_, err := net.InterfaceByName(node.BridgeName)
	require.Error(t, err, "the bridge is gone")
	for _, path := range []string{node.DefaultDir, node.DefaultDir + ".record.json", "/var/lib/kubelet", "/sys/fs/cgroup/cpu/rekomi-node", "/sys/fs/cgroup/memory/rekomi-node"} {
		_, err := os.Stat(path)
		require.ErrorIs(t, err, os.ErrNotExist, "%s is gone", path)
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	require.NoError(t, err)
	require.NotContains(t, string(mounts), node.DefaultDir)
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		saved := output(t, cmd)
		require.NotContains(t, saved, "KUBE-")
		require.NotContains(t, saved, "REKOMI-")
	}
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil {
			require.NotContains(t, string(b), node.DefaultDir+"/", "%s belongs to a cluster", p)
		}
	}
}

// runChildCluster starts a cluster with a pod running on it, says so on
// stdout and waits to be killed.
func runChildCluster(t *testing.T) {
	ctx := context.Background()
	c, err := node.Start(ctx, node.EnvOptions(t))
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(c.Config)
	require.NoError(t, err)
	pod := restrictedPod("sleeper", node.PauseImage, "/pause")
	pod.Spec.Containers[0].Command = nil
	_, err = client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	require.NoError(t, err)
	waitPod(t, client, pod.Name, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }, c)
	fmt.Println("child cluster ready")
	select {}
}

// restrictedPod is a pod meeting the restricted Pod Security Standard,
// as the operator's pods do.
func restrictedPod(name, image string, command ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: name, Image: image, Command: command, ImagePullPolicy: corev1.PullIfNotPresent,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					ReadOnlyRootFilesystem:   ptr.To(true),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
			}},
			Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// waitPod waits until done holds for the pod, failing with the kubelet's
// log if it never does.
func waitPod(t *testing.T, client kubernetes.Interface, name string, done func(*corev1.Pod) bool, c *node.Cluster) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	ok := assertEventually(2*time.Minute, func() bool {
		p, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		last = p
		return done(p)
	})
	if !ok {
		t.Fatalf("pod %s: %+v\nkubelet:\n%s", name, last, c.Log("kubelet", 30))
	}
	return last
}

func assertEventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// hostState is what a cluster may change on the machine.
type hostState struct {
	Links    []string
	Routes   string
	Iptables string
	Sysctls  map[string]string
	Cgroups  []string
	Mounts   []string
	Paths    map[string]bool
}

var counters = regexp.MustCompile(`\[\d+:\d+\]`)

func snapshotHost(t *testing.T) hostState {
	t.Helper()
	var s hostState
	ifaces, err := net.Interfaces()
	require.NoError(t, err)
	for _, i := range ifaces {
		s.Links = append(s.Links, i.Name)
	}
	s.Routes = output(t, "ip", "route")
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		s.Iptables += rules(output(t, cmd))
	}
	s.Sysctls = map[string]string{}
	for _, key := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/bridge/bridge-nf-call-iptables",
		"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys"} {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		require.NoError(t, err)
		s.Sysctls[key] = strings.TrimSpace(string(b))
	}
	cgroups, err := filepath.Glob("/sys/fs/cgroup/*/*")
	require.NoError(t, err)
	for _, cg := range cgroups {
		if info, err := os.Stat(cg); err == nil && info.IsDir() {
			s.Cgroups = append(s.Cgroups, cg)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	require.NoError(t, err)
	s.Mounts = strings.Split(string(mounts), "\n")
	sort.Strings(s.Mounts)
	s.Paths = map[string]bool{}
	for _, p := range []string{"/var/lib/kubelet", "/opt/containerd", "/etc/kubernetes", "/var/log/pods", "/var/log/containers", "/etc/cni", "/opt/cni", "/var/run/netns", node.DefaultDir} {
		_, err := os.Stat(p)
		s.Paths[p] = err == nil
	}
	return s
}

// rules are the chains and rules of saved tables, without the comments,
// counters and empty tables, which iptables makes when it lists one.
func rules(saved string) string {
	var kept []string
	for _, line := range strings.Split(saved, "\n") {
		switch {
		case strings.HasPrefix(line, "-"):
			kept = append(kept, line)
		case strings.HasPrefix(line, ":"):
			fields := strings.Fields(counters.ReplaceAllString(line, ""))
			if len(fields) != 2 || fields[1] != "ACCEPT" || !builtinChains[fields[0][1:]] {
				kept = append(kept, strings.Join(fields, " "))
			}
		}
	}
	return strings.Join(kept, "\n")
}

var builtinChains = map[string]bool{"PREROUTING": true, "INPUT": true, "FORWARD": true, "OUTPUT": true, "POSTROUTING": true}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	require.NoError(t, err, "%s %v", name, args)
	return string(out)
}
