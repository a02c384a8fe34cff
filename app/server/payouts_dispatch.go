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
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/payout"
)

// dispatchPayout sends a payout through its provider in three steps: a
// transaction marks it dispatched, the provider is called outside any
// transaction with the payout id as idempotency key, and a second
// transaction records the outcome. A transient provider failure leaves the
// payout dispatched and answers 502: dispatching again retries with the
// same key, so the money moves at most once.
//
// With an Idempotency-Key, both transactions look for a stored answer, and
// the second stores the outcome with it; a 502 is not stored.
func (s *Server) dispatchPayout(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := principalFrom(ctx)
	idem, hasKey := ctx.Value(idempotencyKey{}).(idempotencyRequest)
	var send payout.Transfer
	var provider payout.Provider
	var stored response
	replayed := false
	err := s.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		if err := requireActiveOrg(ctx, tx, p); err != nil {
			return err
		}
		if hasKey {
			var err error
			if stored, replayed, err = s.claimIdempotencyKey(ctx, tx, p, idem); err != nil || replayed {
				return err
			}
		}
		var err error
		send, provider, err = s.startDispatch(ctx, tx, r, id)
		return err
	})
	if err != nil || replayed {
		s.answerStored(w, r, stored, replayed, err)
		return
	}
	// The outcome is recorded even if the client goes away meanwhile.
	ctx = context.WithoutCancel(ctx)
	callCtx, cancel := context.WithTimeout(ctx, providerTimeout)
	ref, sendErr := provider.Transfer(callCtx, send)
	cancel()
	reason, definitive := payout.IsDefinitive(sendErr)
	if sendErr != nil && !definitive {
		s.providerUnavailable(w, r, id, provider.Name(), sendErr)
		return
	}
	err = s.db.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		if hasKey {
			var err error
			if stored, replayed, err = s.claimIdempotencyKey(ctx, tx, p, idem); err != nil || replayed {
				return err
			}
		}
		settled, err := s.settlePayout(ctx, tx, r, id, ref, reason, definitive)
		if err != nil {
			return err
		}
		if stored, err = jsonAnswer(http.StatusOK, settled); err != nil || !hasKey {
			return err
		}
		return s.storeAnswer(ctx, tx, p, idem, stored)
	})
	s.answerStored(w, r, stored, replayed, err)
}

func (s *Server) answerStored(w http.ResponseWriter, r *http.Request, resp response, replayed bool, err error) {
	if err != nil {
		s.writeError(w, r, "dispatching a payout", err)
		return
	}
	writeResponse(w, resp, replayed)
}

// startDispatch locks the payout, checks it may be sent, marks a pending
// one dispatched, and returns the transfer and the provider to send it
// with: for Stripe Connect, the one built from the organization's own key
// as its row holds it now. A dispatched payout (a transient failure
// before) is sent again unchanged.
func (s *Server) startDispatch(ctx context.Context, tx pgx.Tx, r *http.Request, id uuid.UUID) (payout.Transfer, payout.Provider, error) {
	orgID := principalFrom(ctx).OrgID
	po, err := scanPayout(tx.QueryRow(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
	if err != nil {
		return payout.Transfer{}, nil, err
	}
	if po.Status == payoutPaid || po.Status == payoutFailed {
		return payout.Transfer{}, nil, problemError{Problem{Type: "conflict", Status: http.StatusConflict,
			Title: "The payout is already " + po.Status, Detail: "only a pending or dispatched payout can be dispatched"}}
	}
	provider, err := s.providerFor(ctx, tx, orgID, po.Provider)
	if err != nil {
		return payout.Transfer{}, nil, err
	}
	destination, err := payoutDestination(ctx, tx, orgID, po)
	if err != nil {
		return payout.Transfer{}, nil, err
	}
	if po.Status == payoutPending {
		if _, err := tx.Exec(ctx, `UPDATE payouts SET status = 'dispatched', dispatched_at = now(), updated_at = now()
			WHERE org_id = $1 AND id = $2`, orgID, id); err != nil {
			return payout.Transfer{}, nil, fmt.Errorf("marking the payout dispatched: %w", db.MapError(err))
		}
		metadata := map[string]any{"provider": po.Provider, "amount": po.Amount, "currency": po.Currency}
		if destination != "" {
			metadata["destination"] = maskAccount(destination)
		}
		if _, err := s.sealer.Append(ctx, tx, orgID, s.auditEntry(r, "payout.dispatched", "payout", id.String(), metadata)); err != nil {
			return payout.Transfer{}, nil, err
		}
	}
	return payout.Transfer{PayoutID: po.ID, Amount: po.Amount, Currency: po.Currency, Destination: destination}, provider, nil
}

// payoutDestination is the affiliate's account at the payout's provider:
// the Stripe connected account, or nothing for a manual payout.
func payoutDestination(ctx context.Context, tx pgx.Tx, orgID uuid.UUID, po payoutObject) (string, error) {
	if po.Provider != payout.NameStripeConnect {
		return "", nil
	}
	var account *string
	if err := tx.QueryRow(ctx, `SELECT stripe_account_id FROM affiliates WHERE org_id = $1 AND id = $2`,
		orgID, po.AffiliateID).Scan(&account); err != nil {
		return "", fmt.Errorf("reading the affiliate's Stripe account: %w", db.MapError(err))
	}
	if account == nil {
		return "", problemError{Problem{Type: "payout_account_missing", Status: http.StatusUnprocessableEntity,
			Title: "The affiliate has no Stripe connected account", Detail: "connect the affiliate's account (stripe_account_id), then dispatch again"}}
	}
	return *account, nil
}

// settlePayout records the provider's answer on a dispatched payout: paid
// with its reference and its commissions paid, or failed with the reason
// and its commissions released for a later payout. Its items stay as the
// record of the attempt. A payout a concurrent dispatch settled first is
// returned as it is.
func (s *Server) settlePayout(ctx context.Context, tx pgx.Tx, r *http.Request, id uuid.UUID, ref, reason string, failed bool) (payoutObject, error) {
	orgID := principalFrom(r.Context()).OrgID
	po, err := readPayout(ctx, tx, orgID, id, true)
	if err != nil || po.Status != payoutDispatched {
		return po, err
	}
	var entry audit.Entry
	if failed {
		reason = sanitizeReason(reason)
		released, err := tx.Exec(ctx, `UPDATE commissions SET payout_id = NULL, updated_at = now() WHERE org_id = $1 AND payout_id = $2`, orgID, id)
		if err != nil {
			return po, fmt.Errorf("releasing the payout's commissions: %w", db.MapError(err))
		}
		po, err = scanPayout(tx.QueryRow(ctx, `UPDATE payouts SET status = 'failed', failure_reason = $3, updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+payoutColumns, orgID, id, reason))
		entry = s.auditEntry(r, "payout.failed", "payout", id.String(),
			map[string]any{"failure_reason": reason, "commissions_released": released.RowsAffected()})
		if err != nil {
			return po, fmt.Errorf("marking the payout failed: %w", err)
		}
	} else {
		if _, err := tx.Exec(ctx, `UPDATE commissions SET status = 'paid', paid_at = now(), updated_at = now()
			WHERE org_id = $1 AND payout_id = $2 AND status = 'approved'`, orgID, id); err != nil {
			return po, fmt.Errorf("marking the payout's commissions paid: %w", db.MapError(err))
		}
		po, err = scanPayout(tx.QueryRow(ctx, `UPDATE payouts SET status = 'paid', provider_ref = $3, updated_at = now()
			WHERE org_id = $1 AND id = $2 RETURNING `+payoutColumns, orgID, id, truncate(ref, 255)))
		entry = s.auditEntry(r, "payout.paid", "payout", id.String(), map[string]any{"provider_ref": ref})
		if err != nil {
			return po, fmt.Errorf("marking the payout paid: %w", err)
		}
	}
	if _, err := s.sealer.Append(ctx, tx, orgID, entry); err != nil {
		return po, err
	}
	return withItems(ctx, tx, orgID, po)
}

// providerUnavailable answers a transient provider failure: the payout
// stays dispatched and may be dispatched again.
func (s *Server) providerUnavailable(w http.ResponseWriter, r *http.Request, id uuid.UUID, provider string, err error) {
	s.log.Warn("Payout provider failed; the payout stays dispatched", "payout_id", id.String(), "provider", provider,
		"error", err.Error(), "request_id", requestIDFrom(r.Context()))
	w.Header().Set("Retry-After", "30")
	writeProblem(w, r, Problem{Type: "payout_provider_unavailable", Status: http.StatusBadGateway,
		Title: "The payout provider did not confirm the transfer",
		Detail: "the payout stays dispatched; dispatch it again later: the provider receives the payout id as " +
			"idempotency key, so a retry never pays twice"})
}

// maskAccount shows enough of a provider account id to tell accounts apart
// in the audit log ("acct_…3C4d") without writing it out whole.
func maskAccount(account string) string {
	const shown = 4
	prefix, rest, ok := strings.Cut(account, "_")
	if !ok {
		prefix, rest = "", account
	} else {
		prefix += "_"
	}
	if len(rest) <= shown {
		return prefix + "…"
	}
	return prefix + "…" + rest[len(rest)-shown:]
}
