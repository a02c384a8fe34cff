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

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v85"
)

// StripeKeyAAD is the associated data that binds an organization's sealed
// Stripe secret key to its row: a value sealed for one organization does
// not open as another's. The operator seals with it, the app opens with it.
func StripeKeyAAD(orgID uuid.UUID) []byte {
	return []byte("organization:" + orgID.String() + ":stripe-secret-key")
}

// StripeKeyKind describes a Stripe secret key without any of its secret
// part: "secret" (sk_) or "restricted" (rk_), and "live", "test" or
// "unknown" mode. It is what an audit entry may say about a key.
func StripeKeyKind(key string) (kind, mode string) {
	kind = "secret"
	if strings.HasPrefix(key, "rk_") {
		kind = "restricted"
	}
	switch rest := key[min(len(key), 3):]; {
	case strings.HasPrefix(rest, "live_"):
		mode = "live"
	case strings.HasPrefix(rest, "test_"):
		mode = "test"
	default:
		mode = "unknown"
	}
	return kind, mode
}

// CheckAccount tells whether account (acct_...) can be paid with this key:
// Stripe must show it to the key (GET /v1/accounts/{id}) with its transfers
// capability active. Its error is a *Failure: definitive when Stripe
// answered that the account cannot be used (its reason says why, in words
// fit for the merchant, and never quotes Stripe's message, which may echo
// part of the key), transient when Stripe could not tell.
func (s *StripeConnect) CheckAccount(ctx context.Context, account string) error {
	if !connectedAccount.MatchString(account) {
		return Definitive("must be a Stripe connected account id (acct_...)", nil)
	}
	acct, err := s.client.V1Accounts.GetByID(ctx, account, nil)
	if err != nil {
		return classifyAccount(err)
	}
	if acct.Capabilities == nil || acct.Capabilities.Transfers != stripe.AccountCapabilityStatusActive {
		return Definitive("the account cannot receive transfers (its transfers capability is not active)", nil)
	}
	return nil
}

// classifyAccount sorts an error of an account lookup: an account Stripe
// does not show to the key (404, or 403 for an account of another
// platform) and a key Stripe refuses (401) are definitive; the rest is
// classified as for transfers.
func classifyAccount(err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return classifyStripe(err)
	}
	switch se.HTTPStatusCode {
	case http.StatusNotFound, http.StatusForbidden:
		return Definitive("the account is not visible to the organization's Stripe key", err)
	case http.StatusUnauthorized:
		return Definitive("Stripe refused the organization's Stripe key", err)
	}
	return classifyStripe(err)
}
