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

package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/ledger"
	"github.com/rekomi/rekomi/app/payout"
)

// StripeConnector is one organization's Stripe Connect provider: the
// transfers of its payouts, and the check of the accounts it connects,
// both made with that organization's own Stripe secret key.
type StripeConnector interface {
	payout.Provider
	// CheckAccount returns nil when account can receive transfers from the
	// organization's key, or a payout.Failure saying why not.
	CheckAccount(ctx context.Context, account string) error
}

// StripeBuilder builds an organization's Stripe Connect provider from its
// Stripe secret key.
type StripeBuilder func(secretKey string) (StripeConnector, error)

// WithStripeConnect replaces how the server builds an organization's
// Stripe Connect provider from the key sealed in its row; by default it is
// payout.NewStripeConnect with the configured Stripe API URL. There is no
// server-wide Stripe key: an organization without its own pays manually.
func WithStripeConnect(build StripeBuilder) Option {
	return func(s *Server) { s.stripe.build = build }
}

// defaultStripeBuilder talks to Stripe, or to apiURL when it is set.
func defaultStripeBuilder(apiURL string) StripeBuilder {
	return func(secretKey string) (StripeConnector, error) {
		return payout.NewStripeConnect(payout.StripeOptions{SecretKey: secretKey, APIURL: apiURL})
	}
}

// errNoStripeKey is an organization whose row holds no Stripe key.
var errNoStripeKey = errors.New("the organization has no Stripe key")

// stripeProviders holds each organization's provider, built from its
// sealed key and kept with the SHA-256 of that sealed value: a new key
// (new sealed bytes) builds a new provider at its next use. At most
// maxStripeProviders organizations' providers are kept.
type stripeProviders struct {
	build StripeBuilder

	mu    sync.Mutex
	byOrg *lru.Cache[uuid.UUID, stripeEntry] // the least recently used goes first; it is rebuilt at its next use
}

// maxStripeProviders bounds how many organizations' providers are kept.
const maxStripeProviders = 1024

type stripeEntry struct {
	sealed   [sha256.Size]byte
	provider StripeConnector
}

const selectStripeKeySQL = `SELECT stripe_secret_key_sealed FROM organizations WHERE id = $1`

// stripeFor returns the organization's Stripe Connect provider, reading its
// sealed key in tx; errNoStripeKey when it has none.
func (s *Server) stripeFor(ctx context.Context, tx pgx.Tx, orgID uuid.UUID) (StripeConnector, error) {
	var sealed []byte
	if err := tx.QueryRow(ctx, selectStripeKeySQL, orgID).Scan(&sealed); err != nil {
		return nil, fmt.Errorf("reading the organization's Stripe key: %w", db.MapError(err))
	}
	if sealed == nil {
		return nil, errNoStripeKey
	}
	return s.stripe.get(orgID, sealed, s.ring)
}

// get returns the provider built from sealed, opening it with ring only
// when the organization's sealed key is not the one cached.
func (p *stripeProviders) get(orgID uuid.UUID, sealed []byte, ring *keyring.KeyRing) (StripeConnector, error) {
	sum := sha256.Sum256(sealed)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byOrg == nil {
		var err error
		if p.byOrg, err = lru.New[uuid.UUID, stripeEntry](maxStripeProviders); err != nil {
			return nil, fmt.Errorf("caching Stripe providers: %w", err)
		}
	}
	if e, ok := p.byOrg.Get(orgID); ok && e.sealed == sum {
		return e.provider, nil
	}
	if ring == nil {
		return nil, errors.New("opening the organization's Stripe key: the app has no key ring (--key-ring-file)")
	}
	plain, err := ring.Decrypt(sealed, payout.StripeKeyAAD(orgID))
	if err != nil {
		return nil, fmt.Errorf("opening the organization's Stripe key: %w", err)
	}
	key, err := payout.ParseStripeSecretKey(plain)
	if err != nil {
		return nil, fmt.Errorf("opening the organization's Stripe key: %w", err)
	}
	provider, err := p.build(key)
	if err != nil {
		return nil, fmt.Errorf("building the organization's Stripe Connect provider: %w", err)
	}
	p.byOrg.Add(orgID, stripeEntry{sealed: sum, provider: provider})
	return provider, nil
}

// providerFor returns the provider that sends a payout of the organization
// through name: the manual provider, or the organization's own Stripe
// Connect provider (a 422 payout_provider_not_configured when it has no
// Stripe key).
func (s *Server) providerFor(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, name ledger.PayoutProvider) (payout.Provider, error) {
	switch name {
	case ledger.ProviderManual:
		return payout.Manual{}, nil
	case ledger.ProviderStripeConnect:
		provider, err := s.stripeFor(ctx, tx, orgID)
		if errors.Is(err, errNoStripeKey) {
			return nil, problemError{Problem{Type: "payout_provider_not_configured", Status: http.StatusUnprocessableEntity,
				Title: "The organization cannot pay through Stripe", Detail: ledger.NoStripeKeyDetail}}
		}
		return provider, err
	}
	return nil, problemError{Problem{Type: "payout_provider_not_configured", Status: http.StatusUnprocessableEntity,
		Title: "The payout's provider is not configured on this server", Detail: string(name) + " is not a payout provider of this server"}}
}

// hasStripeKey reports whether the organization's row holds a Stripe key,
// without opening it.
func hasStripeKey(ctx context.Context, tx pgx.Tx, orgID uuid.UUID) (bool, error) {
	var has bool
	err := tx.QueryRow(ctx, `SELECT stripe_secret_key_sealed IS NOT NULL FROM organizations WHERE id = $1`, orgID).Scan(&has)
	if err != nil {
		return false, fmt.Errorf("reading whether the organization has a Stripe key: %w", db.MapError(err))
	}
	return has, nil
}

// checkStripeAccount answers, and returns false, unless the organization's
// own Stripe key sees account and it can receive transfers: 422 with a
// field error on stripe_account_id when Stripe says no or the organization
// has no Stripe key, 502 when Stripe could not tell. Nothing is written
// either way.
func (s *Server) checkStripeAccount(w http.ResponseWriter, r *http.Request, orgID uuid.UUID, account string) bool {
	ctx := r.Context()
	var provider StripeConnector
	err := s.db.TenantTx(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		provider, err = s.stripeFor(ctx, tx, orgID)
		return err
	})
	if errors.Is(err, errNoStripeKey) {
		validationFailed(w, r, []ledger.FieldError{{Field: "stripe_account_id", Detail: "cannot be checked: " + ledger.NoStripeKeyDetail}})
		return false
	}
	if err != nil {
		s.writeError(w, r, "reading the organization's Stripe key", err)
		return false
	}
	callCtx, cancel := context.WithTimeout(ctx, providerTimeout)
	err = provider.CheckAccount(callCtx, account)
	cancel()
	if err == nil {
		return true
	}
	if reason, definitive := payout.IsDefinitive(err); definitive {
		validationFailed(w, r, []ledger.FieldError{{Field: "stripe_account_id", Detail: reason}})
		return false
	}
	s.log.Warn("Stripe did not answer an account check", "error", err.Error(), "request_id", requestIDFrom(ctx))
	w.Header().Set("Retry-After", "30")
	writeProblem(w, r, Problem{Type: "payout_provider_unavailable", Status: http.StatusBadGateway,
		Title:  "Stripe did not confirm the connected account",
		Detail: "nothing was changed; send the request again later"})
	return false
}
