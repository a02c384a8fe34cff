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

// Package storable makes text taken from a request (a header, a referrer)
// fit a PostgreSQL text column: invalid UTF-8 replaced, NUL removed, cut on
// a character boundary. Every header value that reaches the database goes
// through Text, so the bytes a client sends can change what is stored but
// never make a write fail. It does not validate identifiers: a value whose
// bytes must be kept exactly (an idempotency key, a provider's event id) is
// refused by its own parser instead. JSON does the same for a document a
// jsonb column is to hold, such as a provider's signed event.
package storable
