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

// Package webhook verifies deliveries from payment and identity providers:
// Stripe's Stripe-Signature header and the Svix / Standard Webhooks headers
// Clerk sends. It checks the signature over the exact bytes received with any
// of an endpoint's current secrets, applies the endpoint's tolerance to the
// signed timestamp in both directions, and parses the event only once it is
// verified. Every refusal carries a [Reason] for logs and metrics, never for
// the caller. It does not read the database, store events or act on them.
package webhook
