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

// Package payout sends money to affiliates through a payout provider: the
// Provider interface, the manual provider (the merchant pays by hand) and
// Stripe Connect transfers. It owns the call to the provider and the
// classification of its errors as definitive or transient; it never touches
// the database, which is the caller's job before and after the call.
package payout

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"
	"github.com/rekomi/rekomi/app/ledger"
)

// Names of the providers: the ledger's, as stored in payouts.provider.
const (
	NameManual        = string(ledger.ProviderManual)
	NameStripeConnect = string(ledger.ProviderStripeConnect)
)

// Transfer is one payout to send: Amount in minor units of Currency (ISO
// 4217, upper case) to Destination, the affiliate's account at the provider.
// PayoutID is the idempotency key: sending the same payout twice moves the
// money once.
type Transfer struct {
	PayoutID    uuid.UUID
	Amount      int64
	Currency    string
	Destination string
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func (t Transfer) validate() error {
	switch {
	case t.PayoutID == uuid.Nil:
		return Definitive("the transfer has no payout id", nil)
	case t.Amount <= 0:
		return Definitive(fmt.Sprintf("the amount must be positive, got %d", t.Amount), nil)
	case !currencyCode.MatchString(t.Currency):
		return Definitive(fmt.Sprintf("the currency must be an upper-case ISO 4217 code, got %q", t.Currency), nil)
	}
	return nil
}

// Provider sends transfers. Transfer returns the provider's reference for
// the transfer. Its error is a *Failure: definitive when the provider
// refused (the payout failed and its commissions may be paid again) or
// transient (the payout may or may not have been made; retry with the same
// PayoutID). An error that is not a *Failure counts as transient.
type Provider interface {
	Name() string
	Transfer(ctx context.Context, t Transfer) (ref string, err error)
}

// Failure is a provider's error, classified.
type Failure struct {
	// Permanent is true when the provider refused the transfer for good:
	// insufficient funds, an invalid account, a bad request. Retrying the
	// same transfer cannot succeed.
	Permanent bool
	// Reason says what happened, in words fit for the merchant; it never
	// carries a credential.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (f *Failure) Error() string {
	kind := "transient"
	if f.Permanent {
		kind = "definitive"
	}
	if f.Err == nil {
		return fmt.Sprintf("%s payout failure: %s", kind, f.Reason)
	}
	return fmt.Sprintf("%s payout failure: %s: %s", kind, f.Reason, f.Err.Error())
}

func (f *Failure) Unwrap() error { return f.Err }

// Definitive is a refusal: the transfer did not and will not happen.
func Definitive(reason string, err error) error {
	return &Failure{Permanent: true, Reason: reason, Err: err}
}

// Transient is a failure after which the transfer may or may not have been
// made; only a retry with the same PayoutID can tell.
func Transient(reason string, err error) error {
	return &Failure{Reason: reason, Err: err}
}

// IsDefinitive reports whether err is a definitive refusal, and its reason.
// Anything else, including an unclassified error, is transient: marking a
// payout failed when money may have moved would pay its commissions twice.
func IsDefinitive(err error) (reason string, ok bool) {
	var f *Failure
	if errors.As(err, &f) && f.Permanent {
		return f.Reason, true
	}
	return "", false
}
