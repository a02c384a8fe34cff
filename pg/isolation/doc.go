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

// Package isolation checks, from the PostgreSQL catalog alone, that row-level
// security can refuse every cross-tenant access: each tenant table has RLS
// enabled and forced, tenant-scoped policies that filter and check rows, an
// index led by its tenant key and an owner other than the runtime role, and
// the runtime role holds no attribute or membership that would let it bypass
// RLS. The operator reports the result as the IsolationVerified condition and
// the app refuses to start without it.
//
// The package only reads the catalog, through views and functions any role
// may use, so the runtime role can run it; it never changes anything.
package isolation
