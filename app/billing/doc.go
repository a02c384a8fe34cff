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

// Package billing makes the effects of verified provider events (the
// payments of Stripe, Paddle, Shopify and Braintree, Clerk's members) on an
// organization's ledger. The webhook handler stores each new event in
// billing_events and audits its receipt,
// then calls Apply in the same tenant transaction, so an event's effects
// commit with it or not at all. Every effect goes through the ledger's
// verbs, as the API's do; adding a provider event touches only this
// package. It never verifies a signature (app/webhook does), never stores
// an event (the webhook handler does, before Apply) and never opens a
// transaction.
//
// Each effect that changes business state writes its own audit entry, by
// the provider (actor type provider, actor id the provider's name), with
// the event's id, type and endpoint in the metadata:
//
//   - customer.attributed: a provider's customer was attributed to a
//     referral or a promo code (with how many earlier sales were credited
//     to it); conversion.credited: one such sale, with the commission it
//     earned; customer.synced: one was created or its email changed,
//     unattributed.
//   - conversion.sale_tracked: a payment (a paid invoice, a completed
//     transaction, a paid order, a charged subscription) was recorded as a
//     sale, with the commission it earned, exactly as the track API
//     audits a sale.
//   - conversion.reduced: a refund or dispute of a sale was recorded, or
//     changed (a larger total refunded, a dispute won or lost);
//   - commission.reduced / commission.reversed / commission.clawed_back /
//     commission.restored: the sale's commissions were brought to pay
//     what they earned less the share of the sale lost (see
//     ledger.ReduceSale).
//   - member.created / member.updated / member.deleted: Clerk users and
//     organization memberships.
//
// An effect that finds nothing to change writes nothing.
//
// Failures: an event whose payload can never take effect (it does not
// parse, or lacks what its type needs) would fail the same way on every
// retry, so Apply logs a warning and returns nil: the event stays
// stored in billing_events for inspection and the provider stops
// retrying. Everything else (a database error) is returned, so the
// handler rolls back and answers 500 and the provider retries. An effect
// runs in a savepoint, so an unusable event leaves nothing half done.
// Unknown event types have no effect.
package billing
