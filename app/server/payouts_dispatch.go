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
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/ledger"
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
		if err := ledger.RequireActive(ctx, tx, p.OrgID); err != nil {
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
		settled, err := ledger.SettlePayout(ctx, tx, p.OrgID, s.requestRecorder(r), id,
			ledger.Outcome{Ref: ref, FailureReason: reason, Failed: definitive})
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

// startDispatch starts payout id's dispatch and returns the transfer and
// the provider to send it with: for Stripe Connect, the one built from the
// organization's own key as its row holds it now.
func (s *Server) startDispatch(ctx context.Context, tx pgx.Tx, r *http.Request, id uuid.UUID) (payout.Transfer, payout.Provider, error) {
	orgID := principalFrom(ctx).OrgID
	po, destination, err := ledger.StartDispatch(ctx, tx, orgID, s.requestRecorder(r), id)
	if err != nil {
		return payout.Transfer{}, nil, err
	}
	provider, err := s.providerFor(ctx, tx, orgID, po.Provider)
	if err != nil {
		return payout.Transfer{}, nil, err
	}
	return payout.Transfer{PayoutID: po.ID, Amount: po.Amount, Currency: po.Currency, Destination: destination}, provider, nil
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
