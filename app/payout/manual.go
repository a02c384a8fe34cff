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

package payout

import "context"

// ManualRef is the provider reference of every manual payout.
const ManualRef = "manual"

// Manual is the provider for payouts the merchant makes by hand, outside
// Rekomi (a bank transfer, PayPal, a cheque). It sends nothing: dispatching
// a manual payout is the merchant declaring it paid, so it succeeds at once
// and the payout is marked paid in the same request. There is no separate
// "mark paid" step, and so no dispatched manual payout waiting on one.
type Manual struct{}

// Name is "manual".
func (Manual) Name() string { return NameManual }

// Transfer checks the transfer and returns ManualRef.
func (Manual) Transfer(_ context.Context, t Transfer) (string, error) {
	if err := t.validate(); err != nil {
		return "", err
	}
	return ManualRef, nil
}
