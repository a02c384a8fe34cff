//go:build !linux

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

import "path/filepath"

// RunGuarded returns at once: only Linux lets a process end with its
// parent, so elsewhere the control plane's processes run unguarded.
func RunGuarded() {}

// guardBinaries returns the real binaries' paths.
func guardBinaries(_, _, assets string) (etcd, apiserver string, err error) {
	return filepath.Join(assets, "etcd"), filepath.Join(assets, "kube-apiserver"), nil
}
