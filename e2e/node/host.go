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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The node's network exists only on this machine: a bridge the cluster
// makes, holding the node's address, the pods' addresses and the
// Services' virtual addresses, so that no packet for any of them is
// routed off the machine.
const (
	// BridgeName is the Linux bridge the pods' interfaces join.
	BridgeName = "rekomi0"
	// NodeIP is the node's address on the bridge and the pods' gateway:
	// the API server, the kubelet and anything pods reach on the machine
	// listen there.
	NodeIP = "10.233.0.1"
	// PodCIDR is the bridge's network, holding the node and every pod.
	PodCIDR = "10.233.0.0/24"
	// ServiceCIDR holds the Services' virtual addresses, routed to the
	// bridge so that none leaves the machine unanswered.
	ServiceCIDR = "10.233.128.0/24"
	// KubernetesServiceIP is the API server's Service address in pods.
	KubernetesServiceIP = "10.233.128.1"
	// loopbackIP serves what only this machine may reach (etcd).
	loopbackIP = "127.0.233.1"
	// guardChain drops whatever would be forwarded between the bridge
	// and any other interface.
	guardChain = "REKOMI-NODE"
	// cgroupRoot is the parent of every pod's cgroup in each hierarchy.
	cgroupRoot = "rekomi-node"
	// cgroupMount is where the machine mounts its cgroup hierarchies.
	cgroupMount = "/sys/fs/cgroup"
	// devicePlugins is the directory the kubelet always uses, whatever
	// its root directory.
	devicePlugins = "/var/lib/kubelet/device-plugins"
	// containerLogs is where the kubelet always links containers' logs.
	containerLogs = "/var/log/containers"
)

// changedSysctls are the kernel settings the kubelet, kube-proxy and the
// CNI bridge plugin may change, put back when the cluster stops.
var changedSysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv4/conf/all/route_localnet",
	"net/bridge/bridge-nf-call-iptables",
	"net/bridge/bridge-nf-call-ip6tables",
	"vm/overcommit_memory",
	"vm/panic_on_oom",
	"kernel/panic",
	"kernel/panic_on_oops",
	"kernel/keys/root_maxkeys",
	"kernel/keys/root_maxbytes",
	"net/netfilter/nf_conntrack_max",
}

// hostRecord is everything a cluster changes on the machine outside its
// directory. It is written before the first change, so that the next
// start can undo a cluster whose process was killed.
type hostRecord struct {
	// Dir is the cluster's directory: every process whose command line
	// names it, and every mount under it, belongs to the cluster.
	Dir string `json:"dir"`
	// KubeProxy is the kube-proxy binary, whose --cleanup removes its
	// rules.
	KubeProxy string `json:"kubeProxy"`
	// Sysctls are the settings as they were, by path under /proc/sys.
	Sysctls map[string]string `json:"sysctls"`
	// Cgroups are the cgroupRoot directories made, one per hierarchy.
	Cgroups []string `json:"cgroups"`
	// Dirs are directories outside Dir the cluster made.
	Dirs []string `json:"dirs"`
}

// recordPath is where the record of the cluster in dir is kept.
func recordPath(dir string) string { return dir + ".record.json" }

// prepareHost undoes a previous cluster in dir that was never stopped,
// calls onClean (if set), then records and makes the bridge, the guard
// chain, the cgroup root and the kubelet's fixed directories.
func prepareHost(dir, kubeProxy string, onClean func()) (*hostRecord, error) {
	if err := undoRecorded(dir); err != nil {
		return nil, fmt.Errorf("undoing the cluster an earlier process left in %s: %w", dir, err)
	}
	if onClean != nil {
		onClean()
	}
	if _, err := net.InterfaceByName(BridgeName); err == nil {
		return nil, fmt.Errorf("the interface %s exists and no cluster recorded it: remove it (ip link del %s) or stop what made it", BridgeName, BridgeName)
	}
	rec := &hostRecord{Dir: dir, KubeProxy: kubeProxy, Sysctls: map[string]string{}}
	for _, key := range changedSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", key)); err == nil {
			rec.Sysctls[key] = strings.TrimSpace(string(b))
		}
	}
	hierarchies, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	for _, h := range hierarchies {
		cg := filepath.Join(h, cgroupRoot)
		if _, err := os.Stat(cg); err == nil {
			return nil, fmt.Errorf("the cgroup %s exists and no cluster recorded it: remove it (rmdir) first", cg)
		}
		rec.Cgroups = append(rec.Cgroups, cg)
	}
	for _, d := range []string{"/var/lib/kubelet", devicePlugins, containerLogs} {
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			rec.Dirs = append(rec.Dirs, d)
		}
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(recordPath(dir), b, 0o600); err != nil {
		return nil, fmt.Errorf("writing the host record: %w", err)
	}
	return rec, rec.apply()
}

// apply makes what rec records.
func (rec *hostRecord) apply() error {
	if err := os.MkdirAll(rec.Dir, 0o700); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"link", "add", BridgeName, "type", "bridge"},
		{"addr", "add", NodeIP + "/24", "dev", BridgeName},
		{"link", "set", BridgeName, "up"},
		{"route", "add", ServiceCIDR, "dev", BridgeName},
	} {
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	for _, args := range [][]string{
		{"-N", guardChain},
		{"-A", guardChain, "-i", BridgeName, "!", "-o", BridgeName, "-j", "DROP"},
		{"-A", guardChain, "!", "-i", BridgeName, "-o", BridgeName, "-j", "DROP"},
		{"-I", "FORWARD", "1", "-j", guardChain},
	} {
		if err := run("iptables", append([]string{"-w"}, args...)...); err != nil {
			return err
		}
	}
	for _, cg := range rec.Cgroups {
		if err := os.Mkdir(cg, 0o755); err != nil {
			return fmt.Errorf("making the cgroup root: %w", err)
		}
		if filepath.Base(filepath.Dir(cg)) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(cg), f))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(cg, f), b, 0o644); err != nil {
					return fmt.Errorf("copying %s to %s: %w", f, cg, err)
				}
			}
		}
	}
	return os.MkdirAll(devicePlugins, 0o755)
}

// undoRecorded undoes the cluster recorded for dir, if any.
func undoRecorded(dir string) error {
	b, err := os.ReadFile(recordPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var rec hostRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("reading %s: %w", recordPath(dir), err)
	}
	return rec.undo()
}

// undo kills what is left of the cluster and puts the machine back as
// the record found it. It tolerates any part being gone already.
func (rec *hostRecord) undo() error {
	var errs []error
	errs = append(errs, rec.killAll())
	if rec.KubeProxy != "" {
		if _, err := os.Stat(rec.KubeProxy); err == nil {
			errs = append(errs, run(rec.KubeProxy, "--cleanup"))
		}
	}
	for _, family := range []string{"iptables", "ip6tables"} {
		errs = append(errs, removeChains(family))
	}
	errs = append(errs, unmountUnder(rec.Dir))
	if _, err := net.InterfaceByName(BridgeName); err == nil {
		errs = append(errs, run("ip", "link", "del", BridgeName))
	}
	for _, cg := range rec.Cgroups {
		errs = append(errs, removeCgroup(cg))
	}
	for key, value := range rec.Sysctls {
		path := filepath.Join("/proc/sys", key)
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) != value {
			errs = append(errs, os.WriteFile(path, []byte(value), 0o644))
		}
	}
	if err := os.RemoveAll(rec.Dir); err != nil {
		errs = append(errs, err)
	}
	for i := len(rec.Dirs) - 1; i >= 0; i-- {
		errs = append(errs, os.RemoveAll(rec.Dirs[i]))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.Remove(recordPath(rec.Dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// killAll kills every process of the cluster: those whose command line
// names its directory (its components and containerd's shims) and those
// in its cgroups (the containers), until none is left.
func (rec *hostRecord) killAll() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := rec.processes()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of the cluster outlive SIGKILL: %v", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processes lists the live processes of the cluster, never this one.
func (rec *hostRecord) processes() []int {
	found := map[int]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(rec.Dir+"/")) && !zombie(pid) {
			found[pid] = true
		}
	}
	for _, cg := range rec.Cgroups {
		_ = filepath.WalkDir(cg, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() && !zombie(pid) {
					found[pid] = true
				}
			}
			return nil
		})
	}
	pids := make([]int, 0, len(found))
	for pid := range found {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// zombie reports whether pid has exited and waits for its parent.
func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// unmountUnder detaches every mount at or under dir, deepest first.
func unmountUnder(dir string) error {
	for round := 0; round < 10; round++ {
		mounts, err := os.ReadFile("/proc/self/mounts")
		if err != nil {
			return err
		}
		var under []string
		for _, line := range strings.Split(string(mounts), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			point := strings.ReplaceAll(fields[1], `\040`, " ")
			if point == dir || strings.HasPrefix(point, dir+"/") {
				under = append(under, point)
			}
		}
		if len(under) == 0 {
			return nil
		}
		sort.Sort(sort.Reverse(sort.StringSlice(under)))
		for _, point := range under {
			if err := syscall.Unmount(point, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("unmounting %s: %w", point, err)
			}
		}
	}
	return fmt.Errorf("mounts under %s keep coming back", dir)
}

// removeCgroup removes the cgroup directory cg and its children, deepest
// first; a cgroup's files go with its directory.
func removeCgroup(cg string) error {
	var dirs []string
	err := filepath.WalkDir(cg, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the cgroup %s: %w", dirs[i], err)
		}
	}
	return nil
}

// cgroupHierarchies are the mounted cgroup hierarchies: runc's cgroupfs
// driver makes a container's cgroup in each.
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return nil, fmt.Errorf("listing the cgroup hierarchies: %w", err)
	}
	var hs []string
	for _, e := range entries {
		if e.IsDir() {
			hs = append(hs, filepath.Join(cgroupMount, e.Name()))
		}
	}
	return hs, nil
}

// removeChains removes, in one address family, the guard chain and every
// chain kube-proxy leaves after its own --cleanup (KUBE-FIREWALL), with
// the rules jumping to them.
func removeChains(family string) error {
	saved, err := exec.Command(family + "-save").Output()
	if err != nil {
		return fmt.Errorf("%s-save: %w", family, err)
	}
	ours := func(chain string) bool { return chain == guardChain || strings.HasPrefix(chain, "KUBE-") }
	var table string
	var jumps, chains [][]string
	for _, line := range strings.Split(string(saved), "\n") {
		fields := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case strings.HasPrefix(line, ":") && len(fields) > 0 && ours(fields[0][1:]):
			chains = append(chains, []string{"-t", table, fields[0][1:]})
		case strings.HasPrefix(line, "-A ") && len(fields) > 1 && !ours(fields[1]) && jumpsTo(fields, ours):
			jumps = append(jumps, append([]string{"-t", table, "-D"}, fields[1:]...))
		}
	}
	var errs []error
	for _, rule := range jumps {
		errs = append(errs, run(family, append([]string{"-w"}, rule...)...))
	}
	for _, chain := range chains {
		errs = append(errs, run(family, "-w", chain[0], chain[1], "-F", chain[2]))
	}
	for _, chain := range chains {
		errs = append(errs, run(family, "-w", chain[0], chain[1], "-X", chain[2]))
	}
	return errors.Join(errs...)
}

// jumpsTo reports whether a saved rule's target is a chain ours selects.
func jumpsTo(fields []string, ours func(string) bool) bool {
	for i := 0; i+1 < len(fields); i++ {
		if (fields[i] == "-j" || fields[i] == "-g") && ours(fields[i+1]) {
			return true
		}
	}
	return false
}

// run runs a command to its end; an error carries its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
