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
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// The control plane's processes end with rekomi dev, however it ends. envtest
// starts etcd and kube-apiserver as processes of their own, which outlive a
// `rekomi dev` that is killed or loses its terminal, and would then hold the
// etcd data of the state directory. So rekomi dev starts them through links
// to its own binary in <dir>/bin: started under such a name, the binary asks
// the kernel to kill it when its parent dies (PR_SET_PDEATHSIG) and replaces
// itself with the real binary, which keeps that request.

// guardedNames are the control plane's binaries that run guarded.
var guardedNames = []string{"etcd", "kube-apiserver"}

// guardAssetsLink is the link, beside the guarded names, to the directory of
// the real binaries.
const guardAssetsLink = "assets"

// RunGuarded runs a control-plane binary in place of this process when it was
// started through one of the links guardBinaries makes, and does not return
// then. Otherwise it returns at once. The rekomi binary calls it first.
func RunGuarded() {
	name := filepath.Base(os.Args[0])
	if !slices.Contains(guardedNames, name) {
		return
	}
	assets, err := os.Readlink(filepath.Join(filepath.Dir(os.Args[0]), guardAssetsLink))
	if err != nil {
		return
	}
	parent := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "%s: asking to end with rekomi dev: %v\n", name, err)
		os.Exit(1)
	}
	if os.Getppid() != parent { // the parent died before the request took hold
		os.Exit(1)
	}
	real := filepath.Join(assets, name)
	err = unix.Exec(real, append([]string{real}, os.Args[1:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "%s: running %s: %v\n", name, real, err)
	os.Exit(1)
}

// guardBinaries makes, in dir, a link to self under each guarded name and a
// link to assets, and returns the paths envtest should start for etcd and
// kube-apiserver.
func guardBinaries(dir, self, assets string) (etcd, apiserver string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("making %s: %w", dir, err)
	}
	assets, err = filepath.Abs(assets)
	if err != nil {
		return "", "", fmt.Errorf("locating the control-plane binaries: %w", err)
	}
	links := map[string]string{guardAssetsLink: assets}
	for _, name := range guardedNames {
		links[name] = self
	}
	for name, target := range links {
		path := filepath.Join(dir, name)
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return "", "", fmt.Errorf("replacing %s: %w", path, err)
		}
		if err := os.Symlink(target, path); err != nil {
			return "", "", fmt.Errorf("linking %s to %s: %w", path, target, err)
		}
	}
	return filepath.Join(dir, "etcd"), filepath.Join(dir, "kube-apiserver"), nil
}
