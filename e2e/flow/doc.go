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

// Package flow is the merchant's flow that the end-to-end tests run
// against a Region's app, wherever the app runs (in `rekomi dev`, in the
// pods of a cluster), through kubectl and HTTP only: an organization and
// its Stripe endpoint added with kubectl, a referral link clicked, a
// purchase paid, replayed and refunded by signed Stripe deliveries, the
// commission earned and reversed, the audit log that records every step,
// the isolation from another organization of the same Region, and a
// namespace unbound and bound again.
//
// A test says how its requests reach the app with an [App]: the HTTP
// client that carries every request to the app's public URLs, and how
// the app's metrics are read (see [MetricsAt]). The package imports
// nothing of the module, so the tests exercise the binary and its
// documented surface rather than the code behind them.
package flow
