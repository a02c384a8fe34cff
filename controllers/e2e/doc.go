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

// Package e2e drives the operator as a user does: the `rekomi manager`
// binary runs as its own process against a real API server and real
// PostgreSQL servers, and the tests only create objects and wait for their
// conditions, as `kubectl apply` and `kubectl wait` would. It holds the
// end-to-end tests and the scale benchmark.
package e2e
