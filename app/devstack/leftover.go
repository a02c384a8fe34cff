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
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrEtcdDataInUse means another etcd holds the etcd data of the state
// directory, such as one left running by a `rekomi dev` that was killed:
// envtest's etcd and kube-apiserver do not die with the process that
// started them, and a new etcd would wait for the data's lock until the
// start times out.
var ErrEtcdDataInUse = errors.New("etcd data in use by another process")

// checkEtcdDataFree fails with ErrEtcdDataInUse, naming the processes to stop,
// when another process holds the lock etcd takes on its database in etcdDir.
func checkEtcdDataFree(etcdDir string) error {
	db := filepath.Join(etcdDir, "member", "snap", "db")
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the etcd data %s: %w", db, err)
	}
	defer release(f)
	locked, err := tryLock(f)
	if err != nil {
		return fmt.Errorf("checking the etcd data %s: %w", db, err)
	}
	if locked {
		return nil // released on return
	}
	pids := leftoverProcesses(etcdDir)
	if len(pids) == 0 {
		return fmt.Errorf("%w: %s is held by another etcd, most likely of an earlier `rekomi dev` that was killed: "+
			"stop it and its kube-apiserver (`ps -ef | grep -e --data-dir=%s`), then start again",
			ErrEtcdDataInUse, etcdDir, etcdDir)
	}
	list := strings.Join(pids, " ")
	return fmt.Errorf("%w: the etcd and kube-apiserver of an earlier `rekomi dev` that was killed still run on %s (pids %s): "+
		"stop them with `kill -9 %s`, then start again", ErrEtcdDataInUse, etcdDir, list, list)
}

// leftoverProcesses are the ids of the etcd processes whose data directory is
// etcdDir and of the kube-apiservers that use them, found in /proc.
func leftoverProcesses(etcdDir string) []string {
	procs := commandLines()
	var pids []string
	clientURLs := map[string]bool{}
	for _, p := range procs {
		if flagValue(p.args, "--data-dir") == etcdDir {
			pids = append(pids, p.pid)
			for _, u := range strings.Split(flagValue(p.args, "--listen-client-urls"), ",") {
				clientURLs[u] = u != ""
			}
		}
	}
	for _, p := range procs {
		for _, u := range strings.Split(flagValue(p.args, "--etcd-servers"), ",") {
			if clientURLs[u] {
				pids = append(pids, p.pid)
				break
			}
		}
	}
	return pids
}

// process is a process id and its arguments.
type process struct {
	pid  string
	args []string
}

// commandLines lists the processes that /proc shows; none where there is no
// /proc.
func commandLines() []process {
	entries, _ := os.ReadDir("/proc")
	var procs []process
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		procs = append(procs, process{pid: e.Name(), args: args})
	}
	return procs
}

// flagValue is the value of a `--name=value` or `--name value` argument.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
