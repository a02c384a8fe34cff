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

// Package ledger holds the business rules of an organization's affiliate
// program: who a customer is attributed to, what a sale earns, when a
// commission is reversed, and how payouts and API keys come and go. Each
// operation is one function (a verb) that runs in the caller's tenant
// transaction and writes its own audit entry through a Recorder, so the
// HTTP API, the admin pages, the provider webhooks and the operator all
// change the ledger the same way.
//
// The package knows nothing of HTTP: a verb returns the domain type the API
// answers with, a FieldErrors list for input it refuses, or an error. It
// never opens a transaction; row-level security scopes every statement to
// the organization the transaction is bound to, and every statement names
// the organization too.
package ledger
