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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/billing"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/storable"
	"github.com/rekomi/rekomi/app/webhook"
)

// Provider webhooks: POST /webhooks/{provider}/{endpoint_id}. The body is
// read once and verified as received; the endpoint's organization comes
// from the routing table, its secrets from its row, opened with the key
// ring. A verified event is stored, acted on and audited in one tenant
// transaction; a delivery of an event already stored changes nothing.
// Every refusal answers the same empty 401 (413 for an oversize body) and
// is told apart only in the log and the metrics; a failure of ours answers
// an empty 500 so that the provider retries.

// maxWebhookBody bounds a delivery's body. It is the webhook route's own
// limit, whatever the API's: limitBody leaves paths under
// webhookPathPrefix alone.
const maxWebhookBody = 1 << 20

// webhookPathPrefix starts every webhook route.
const webhookPathPrefix = "/webhooks/"

const actionBillingEventReceived = "billing_event.received"

// storedEndpoint is a webhook_endpoints row with its secrets opened, and
// whether its organization is cancelled.
type storedEndpoint struct {
	provider     string
	secrets      []string
	tolerance    time.Duration
	disabled     bool
	orgCancelled bool
}

const selectWebhookEndpointSQL = `
SELECT e.provider, e.secrets, e.tolerance_seconds, e.disabled, o.status <> 'active'
FROM webhook_endpoints e JOIN organizations o ON o.id = e.org_id
WHERE e.org_id = $1 AND e.id = $2`

const insertBillingEventSQL = `
INSERT INTO billing_events (org_id, endpoint_id, provider, event_id, type, payload)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (org_id, provider, event_id) DO NOTHING
RETURNING id`

func (s *Server) receiveWebhook(w http.ResponseWriter, r *http.Request) {
	provider := r.PathValue("provider")
	body, err := readWebhookBody(w, r)
	if err == nil {
		err = knownProvider(provider)
	}
	var endpointID, org uuid.UUID
	if err == nil {
		endpointID, org, err = s.webhookOrg(r.Context(), r.PathValue("endpoint_id"))
		if reason, _ := webhook.ReasonOf(err); reason == webhook.ReasonUnknownEndpoint {
			s.decoy.receive(r, s, provider, body)
		}
	}
	replay := false
	if err == nil {
		replay, err = s.receive(r, org, endpointID, provider, body)
	}
	if err != nil {
		s.failWebhook(w, r, provider, err)
		return
	}
	outcome := "new"
	if replay {
		outcome = "replay"
	}
	s.webhooks.deliveries.WithLabelValues(provider, outcome).Inc()
	w.WriteHeader(http.StatusOK)
}

// readWebhookBody reads the whole body, at most maxWebhookBody bytes.
func readWebhookBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxWebhookBody {
		return nil, webhook.Refuse(webhook.ReasonBodyTooLarge, "declared %d bytes", r.ContentLength)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, webhook.Refuse(webhook.ReasonBodyTooLarge, "over %d bytes", maxWebhookBody)
	case err != nil:
		return nil, webhook.Refuse(webhook.ReasonUnreadableBody, "reading the body: %s", err.Error())
	}
	return body, nil
}

func knownProvider(provider string) error {
	if !slices.Contains(webhook.Providers(), provider) {
		return webhook.Refuse(webhook.ReasonUnknownProvider, "no provider of that name")
	}
	return nil
}

// webhookOrg returns the endpoint named by the path and its organization,
// from the routing table, on every delivery: with no cache in front, a
// known endpoint costs the lookup an unknown one does (see decoyEndpoint
// for the rest). Only the canonical form of the id, the one the operator
// publishes, names an endpoint.
func (s *Server) webhookOrg(ctx context.Context, text string) (id, org uuid.UUID, err error) {
	id, err = uuid.Parse(text)
	if err != nil || id.String() != text {
		return uuid.Nil, uuid.Nil, webhook.Refuse(webhook.ReasonUnknownEndpoint, "the endpoint id is not a UUID")
	}
	org, _, err = s.db.LookupRoute(ctx, db.RouteWebhookEndpoint, text)
	switch {
	case errors.Is(err, db.ErrNoRoute):
		return uuid.Nil, uuid.Nil, webhook.Refuse(webhook.ReasonUnknownEndpoint, "no route key for endpoint %s", text)
	case err != nil:
		return uuid.Nil, uuid.Nil, fmt.Errorf("looking up webhook endpoint %s: %w", text, db.MapError(err))
	}
	return id, org, nil
}

// receive verifies and records a delivery in one tenant transaction, and
// reports whether its event was already stored. The endpoint is read in
// that transaction, so a delivery is checked against the endpoint as it is
// when its event is stored; a refusal rolls back having written nothing.
func (s *Server) receive(r *http.Request, org, endpointID uuid.UUID, provider string, body []byte) (replay bool, err error) {
	ctx := r.Context()
	err = s.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		ep, err := s.readWebhookEndpoint(ctx, tx, org, endpointID)
		if err != nil {
			return err
		}
		ev, err := verifyDelivery(provider, endpointID, ep, r.Header, body, time.Now())
		if err != nil {
			return err
		}
		replay, err = s.recordEvent(ctx, tx, r, org, ev)
		return err
	})
	return replay, err
}

// readWebhookEndpoint reads the endpoint's row and opens its secrets.
func (s *Server) readWebhookEndpoint(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (storedEndpoint, error) {
	var ep storedEndpoint
	var sealed []byte
	var tolerance int32
	err := tx.QueryRow(ctx, selectWebhookEndpointSQL, org, id).Scan(&ep.provider, &sealed, &tolerance, &ep.disabled, &ep.orgCancelled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ep, webhook.Refuse(webhook.ReasonUnknownEndpoint, "no row for endpoint %s", id)
	case err != nil:
		return ep, fmt.Errorf("reading webhook endpoint %s: %w", id, db.MapError(err))
	}
	ep.tolerance = time.Duration(tolerance) * time.Second
	return ep, s.openSecrets(&ep, sealed, id)
}

// openSecrets decrypts endpoint id's sealed secrets into ep.
func (s *Server) openSecrets(ep *storedEndpoint, sealed []byte, id uuid.UUID) error {
	if s.ring == nil {
		return fmt.Errorf("opening the secrets of webhook endpoint %s: the server has no key ring", id)
	}
	plain, err := s.ring.Decrypt(sealed, webhook.SecretsAAD(id))
	if err != nil {
		return fmt.Errorf("opening the secrets of webhook endpoint %s: %w", id, err)
	}
	if err := json.Unmarshal(plain, &ep.secrets); err != nil {
		return fmt.Errorf("decoding the secrets of webhook endpoint %s: %w", id, err)
	}
	return nil
}

// verifyDelivery checks a delivery against its endpoint at now: enabled,
// of an organization that is not cancelled, of the provider the path names, signed by one of its secrets within its
// tolerance.
func verifyDelivery(provider string, endpointID uuid.UUID, ep storedEndpoint, header http.Header, body []byte, now time.Time) (billing.Event, error) {
	switch {
	case ep.disabled:
		return billing.Event{}, webhook.Refuse(webhook.ReasonDisabledEndpoint, "endpoint %s is disabled", endpointID)
	case ep.orgCancelled: // read-only: the provider retries, and a reactivated organization gets its events
		return billing.Event{}, webhook.Refuse(webhook.ReasonCancelledOrganization, "the organization of endpoint %s is cancelled", endpointID)
	case ep.provider != provider:
		return billing.Event{}, webhook.Refuse(webhook.ReasonWrongProvider, "endpoint %s is not a %s endpoint", endpointID, provider)
	}
	ev, err := webhook.Endpoint{Provider: ep.provider, Secrets: ep.secrets, Tolerance: ep.tolerance}.Verify(header, body, now)
	if err != nil {
		return billing.Event{}, err
	}
	return billing.Event{Provider: provider, EndpointID: endpointID, EventID: ev.ID, Type: ev.Type, Payload: ev.Document}, nil
}

// recordEvent stores a verified event and, when it is new, records its
// audit entry and then makes its effects, whose entries follow it in the
// chain; it reports a replay. The payload is stored, and read by the
// effects, as jsonb takes it (storable.JSON): text a provider's customer
// typed (a NUL in an order note) changes what is stored, but never makes
// a signed delivery fail on every retry.
func (s *Server) recordEvent(ctx context.Context, tx pgx.Tx, r *http.Request, org uuid.UUID, ev billing.Event) (replay bool, err error) {
	if ev.Payload, err = storable.JSON(ev.Payload); err != nil {
		return false, webhook.Refuse(webhook.ReasonMalformedEvent, "the signed body is not one JSON document: %s", err.Error())
	}
	var rowID uuid.UUID
	err = tx.QueryRow(ctx, insertBillingEventSQL, org, ev.EndpointID, ev.Provider, ev.EventID, ev.Type, ev.Payload).Scan(&rowID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("storing %s event %s: %w", ev.Provider, ev.EventID, db.MapError(err))
	}
	if _, err := s.sealer.Append(ctx, tx, org, s.billingEventEntry(r, ev)); err != nil {
		return false, fmt.Errorf("auditing %s event %s: %w", ev.Provider, ev.EventID, err)
	}
	if err := s.effects.Apply(ctx, tx, org, ev); err != nil {
		return false, fmt.Errorf("applying %s event %s (%s): %w", ev.Provider, ev.EventID, ev.Type, err)
	}
	return false, nil
}

// billingEventEntry is the audit entry of a received event: the provider
// is the actor, and nothing of the payload is kept but its type and id.
func (s *Server) billingEventEntry(r *http.Request, ev billing.Event) audit.Entry {
	return audit.Entry{
		ActorType: audit.ActorProvider, ActorID: ev.Provider,
		Action: actionBillingEventReceived, TargetType: "billing_event", TargetID: ev.EventID,
		IP: clientIP(r, s.cfg.TrustedProxies), UserAgent: r.UserAgent(), RequestID: requestIDFrom(r.Context()),
		Metadata: map[string]any{"provider": ev.Provider, "type": ev.Type, "event_id": ev.EventID},
	}
}

// failWebhook answers a delivery that was not received: an empty 401 for
// any refusal (413 for an oversize body), whatever its reason, which goes
// only to the log and the metrics; an empty 500 for a failure of ours, or
// 503 with Retry-After when the database could not be reached, so that
// the provider retries.
func (s *Server) failWebhook(w http.ResponseWriter, r *http.Request, provider string, err error) {
	if knownProvider(provider) != nil {
		provider = "unknown"
	}
	reason, refused := webhook.ReasonOf(err)
	if !refused {
		s.webhooks.deliveries.WithLabelValues(provider, "failed").Inc()
		s.log.Error("Webhook delivery failed", "provider", provider, "error", err.Error(), "request_id", requestIDFrom(r.Context()))
		if db.Unreachable(err) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	s.webhooks.refused.WithLabelValues(provider, string(reason)).Inc()
	s.log.Warn("Webhook delivery refused", "provider", provider, "reason", string(reason), "error", err.Error(),
		"request_id", requestIDFrom(r.Context()))
	status := http.StatusUnauthorized
	if reason == webhook.ReasonBodyTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	w.WriteHeader(status)
}

// webhookMetrics count deliveries by outcome and refusals by reason.
type webhookMetrics struct {
	deliveries *prometheus.CounterVec
	refused    *prometheus.CounterVec
}

func newWebhookMetrics(reg prometheus.Registerer) *webhookMetrics {
	m := &webhookMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rekomi_webhook_deliveries_total",
			Help: "Verified webhook deliveries by provider and outcome (new, replay) and deliveries that failed on our side (failed).",
		}, []string{"provider", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rekomi_webhook_refused_total", Help: "Refused webhook deliveries by provider and reason.",
		}, []string{"provider", "reason"}),
	}
	reg.MustRegister(m.deliveries, m.refused)
	for _, p := range webhook.Providers() {
		for _, reason := range webhook.Reasons() {
			m.refused.WithLabelValues(p, string(reason))
		}
	}
	return m
}
