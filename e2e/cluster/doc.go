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

// Package cluster holds the end-to-end test of Rekomi installed on a real
// one-node cluster (package e2e/node) as a platform team installs it: the
// image imported into the node's containerd, config/default applied with
// it, the samples applied with their admin Secrets naming PostgreSQL
// servers on the node's bridge, and everything after that done through
// kubectl and HTTP only.
package cluster
