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
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/stripe/stripe-go/v85"
)

// StripeOptions configure a StripeConnect provider.
type StripeOptions struct {
	// SecretKey is the organization's secret (sk_...) or restricted (rk_...)
	// key: the account its payouts are paid from.
	SecretKey string
	// APIURL replaces https://api.stripe.com, for tests against stripe-mock.
	// +optional
	APIURL string
	// HTTPClient makes the requests; nil uses stripe-go's client.
	// +optional
	HTTPClient *http.Client
	// MaxNetworkRetries is how many times stripe-go retries a request that
	// failed on the network, a 409, a 429 or a 5xx, with the same idempotency
	// key; nil keeps stripe-go's default (2).
	// +optional
	MaxNetworkRetries *int64
}

// errStripeKeyFormat says what is wrong with a key without quoting it.
var errStripeKeyFormat = errors.New("the Stripe secret key must start with sk_ or rk_")

// ParseStripeSecretKey returns the Stripe secret key held by data, without
// surrounding white space, or an error when it is not a secret (sk_...) or
// restricted (rk_...) key. The operator checks an organization's Secret with
// it before sealing the key, and the app checks the key it opens.
func ParseStripeSecretKey(data []byte) (string, error) {
	key := strings.TrimSpace(string(data))
	if !isStripeSecretKey(key) {
		return "", errStripeKeyFormat
	}
	return key, nil
}

func isStripeSecretKey(key string) bool {
	return strings.HasPrefix(key, "sk_") || strings.HasPrefix(key, "rk_")
}

func (o StripeOptions) validate() error {
	var errs []error
	if !isStripeSecretKey(o.SecretKey) {
		errs = append(errs, errStripeKeyFormat)
	}
	if o.APIURL != "" {
		if u, err := url.Parse(o.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("the Stripe API URL must be an absolute http(s) URL, got %q", o.APIURL))
		}
	}
	if o.MaxNetworkRetries != nil && *o.MaxNetworkRetries < 0 {
		errs = append(errs, fmt.Errorf("max network retries must be 0 or more, got %d", *o.MaxNetworkRetries))
	}
	return errors.Join(errs...)
}

// StripeConnect pays an affiliate with a Stripe transfer from the balance of
// the account whose key it holds (one organization's) to the affiliate's
// connected account (Destination, acct_...). The
// payout id is the request's idempotency key and the transfer's
// metadata.payout_id, so a retried dispatch never transfers twice.
type StripeConnect struct {
	client *stripe.Client
}

// NewStripeConnect checks opts and builds the provider. It makes no request.
func NewStripeConnect(opts StripeOptions) (*StripeConnect, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("configuring Stripe Connect: %w", err)
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        opts.HTTPClient,
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		MaxNetworkRetries: opts.MaxNetworkRetries,
	}
	if opts.APIURL != "" {
		cfg.URL = stripe.String(opts.APIURL)
	}
	backends := stripe.NewBackendsWithConfig(cfg)
	return &StripeConnect{client: stripe.NewClient(opts.SecretKey, stripe.WithBackends(backends))}, nil
}

// Name is "stripe_connect".
func (*StripeConnect) Name() string { return NameStripeConnect }

var connectedAccount = regexp.MustCompile(`^acct_[A-Za-z0-9]{1,250}$`)

// Transfer creates the transfer and returns its id (tr_...).
func (s *StripeConnect) Transfer(ctx context.Context, t Transfer) (string, error) {
	if err := t.validate(); err != nil {
		return "", err
	}
	if !connectedAccount.MatchString(t.Destination) {
		return "", Definitive(fmt.Sprintf("the destination must be a Stripe connected account id (acct_...), got %q", t.Destination), nil)
	}
	params := &stripe.TransferCreateParams{
		Amount:      stripe.Int64(t.Amount),
		Currency:    stripe.String(strings.ToLower(t.Currency)),
		Destination: stripe.String(t.Destination),
		Metadata:    map[string]string{"payout_id": t.PayoutID.String()},
	}
	params.SetIdempotencyKey(t.PayoutID.String())
	tr, err := s.client.V1Transfers.Create(ctx, params)
	if err != nil {
		return "", classifyStripe(err)
	}
	return tr.ID, nil
}

// classifyStripe sorts a Stripe error. Only a request Stripe answered and
// refused on its merits (400 invalid request, 402 card or balance error,
// 404 unknown account) is definitive. Network errors, 401/403 (the
// organization's key, fixable by its owner), idempotency errors, 409 (a
// concurrent request with the same key), 429 and 5xx are transient: the
// transfer may still happen, or happen on a retry with the same key.
func classifyStripe(err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return Transient("Stripe could not be reached", err)
	}
	reason := stripeReason(se)
	switch {
	case se.Type == stripe.ErrorTypeIdempotency:
		return Transient(reason, err)
	case se.HTTPStatusCode == http.StatusBadRequest, se.HTTPStatusCode == http.StatusPaymentRequired,
		se.HTTPStatusCode == http.StatusNotFound:
		return Definitive(reason, err)
	}
	return Transient(reason, err)
}

func stripeReason(se *stripe.Error) string {
	reason := fmt.Sprintf("Stripe answered %d", se.HTTPStatusCode)
	if se.Code != "" {
		reason += " " + string(se.Code)
	}
	if se.Msg != "" {
		reason += ": " + se.Msg
	}
	return reason
}
