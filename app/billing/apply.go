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

package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// Event is a verified provider event, as stored in billing_events.
type Event struct {
	Provider   string // "stripe", "clerk", "paddle", "shopify" or "braintree"
	EndpointID uuid.UUID
	EventID    string
	Type       string
	Payload    []byte // the raw, verified body
}

// effect makes one type of event's effects in tx.
type effect func(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error

// Effects makes provider events' effects, auditing each change with sealer
// as made by the event's provider, and logging the events it ignores.
type Effects struct {
	sealer *audit.Sealer
	log    *slog.Logger
}

// New returns the Effects that audit with sealer and log to log.
func New(sealer *audit.Sealer, log *slog.Logger) *Effects {
	return &Effects{sealer: sealer, log: log}
}

// Apply makes a new event's effects inside its transaction.
func (fx *Effects) Apply(ctx context.Context, tx pgx.Tx, org uuid.UUID, ev Event) error {
	apply := fx.effectOf(ev)
	if apply == nil {
		return nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("starting a savepoint for %s event %s: %w", ev.Provider, ev.EventID, err)
	}
	err = apply(ctx, sp, org, ev)
	var u unusableEvent
	if errors.As(err, &u) {
		fx.log.Warn("Ignoring a provider event that can never take effect", "provider", ev.Provider, "event_id", ev.EventID,
			"type", ev.Type, "org_id", org.String(), "endpoint_id", ev.EndpointID.String(), "reason", u.Error())
		return db.Wrap("rolling back an unusable event's savepoint", sp.Rollback(ctx))
	}
	if err != nil {
		return fmt.Errorf("applying %s event %s (%s): %w", ev.Provider, ev.EventID, ev.Type, err)
	}
	return db.Wrap("releasing the event's savepoint", sp.Commit(ctx))
}

// effectOf is the effect of ev's type, or nil for a type without one.
func (fx *Effects) effectOf(ev Event) effect {
	switch ev.Provider {
	case "stripe":
		return fx.stripeEffect(ev.Type)
	case "clerk":
		return fx.clerkEffect(ev.Type)
	case "paddle":
		return fx.paddleEffect(ev.Type)
	case "shopify":
		return fx.shopifyEffect(ev.Type)
	case "braintree":
		return fx.braintreeEffect(ev.Type)
	}
	return nil
}

// unusableEvent is an event that can never take effect, whatever retries.
type unusableEvent struct{ err error }

func (u unusableEvent) Error() string { return u.err.Error() }
func (u unusableEvent) Unwrap() error { return u.err }

// isUnusable says whether err makes its event unusable.
func isUnusable(err error) bool {
	var u unusableEvent
	return errors.As(err, &u)
}

// isLedgerRefusal says whether err is the ledger refusing what it was
// given, which no retry changes.
func isLedgerRefusal(err error) bool {
	var refusal *ledger.Refusal
	var fields ledger.FieldErrors
	return errors.As(err, &refusal) || errors.As(err, &fields)
}

// unusable marks err as making its event unusable.
func unusable(format string, args ...any) error {
	return unusableEvent{err: fmt.Errorf(format, args...)}
}

// recorder audits changes as made by ev's provider, naming the event in
// every entry's metadata.
func (fx *Effects) recorder(ev Event) ledger.Recorder {
	return ledger.Recorder{Sealer: fx.sealer, Entry: func(action, targetType, targetID string, metadata map[string]any) audit.Entry {
		meta := make(map[string]any, len(metadata)+3)
		for k, v := range metadata {
			meta[k] = v
		}
		meta["event_id"], meta["event_type"], meta["endpoint_id"] = ev.EventID, ev.Type, ev.EndpointID
		return audit.Entry{ActorType: audit.ActorProvider, ActorID: ev.Provider, Action: action,
			TargetType: targetType, TargetID: targetID, Metadata: meta}
	}}
}
