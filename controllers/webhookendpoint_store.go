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

package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/webhook"
)

// Audit actions of the endpoint's row, recorded in its organization's log.
const (
	actionEndpointCreated        = "webhook_endpoint.created"
	actionEndpointSecretsRotated = "webhook_endpoint.secrets_rotated"
	actionEndpointUpdated        = "webhook_endpoint.updated"
	actionEndpointDisabled       = "webhook_endpoint.disabled"
)

const (
	// endpointKind is the audit target type and the route key kind.
	endpointKind = "webhook_endpoint"
	// endpointActorID names the operator's controller in the audit log.
	endpointActorID = "webhookendpoint-controller"
)

// endpointRow is what the operator manages of a webhook_endpoints row, with
// the secrets decrypted.
type endpointRow struct {
	name             string
	provider         string
	secrets          []string // sorted; nil when the stored value does not decrypt
	toleranceSeconds int32
	disabled         bool
}

// desiredEndpointRow is the row an endpoint asks for, given its validated secrets.
func desiredEndpointRow(ep *rekomiv1.WebhookEndpoint, secrets []string) endpointRow {
	return endpointRow{
		name:             ep.Namespace + "/" + ep.Name,
		provider:         string(ep.Spec.Provider),
		secrets:          secrets,
		toleranceSeconds: int32(ep.Spec.Tolerance.Seconds()),
	}
}

// endpointAction is the audit action of bringing stored to want, or "" when
// there is nothing to write. A changed secret is a rotation, whatever else
// changed with it.
func endpointAction(stored *endpointRow, want endpointRow) string {
	switch {
	case stored == nil:
		return actionEndpointCreated
	case stored.secrets == nil || !slices.Equal(stored.secrets, want.secrets):
		return actionEndpointSecretsRotated
	case stored.name != want.name || stored.provider != want.provider ||
		stored.toleranceSeconds != want.toleranceSeconds || stored.disabled != want.disabled:
		return actionEndpointUpdated
	}
	return ""
}

// webhookURL is where the provider sends an endpoint's deliveries.
func webhookURL(publicBaseURL string, provider rekomiv1.Provider, id uuid.UUID) string {
	return strings.TrimRight(publicBaseURL, "/") + "/webhooks/" + string(provider) + "/" + id.String()
}

const selectEndpointSQL = `
SELECT name, provider, secrets, tolerance_seconds, disabled
FROM webhook_endpoints WHERE org_id = $1 AND id = $2`

// A disabled row keeps its id (billing events reference it) but gives up its
// name, so a new endpoint of the same namespace and name can take it.
const releaseEndpointNameSQL = `
UPDATE webhook_endpoints SET name = left(name, 280) || '~' || id::text, updated_at = now()
WHERE org_id = $1 AND name = $2 AND id <> $3 AND disabled`

const upsertEndpointSQL = `
INSERT INTO webhook_endpoints (org_id, id, name, provider, secrets, tolerance_seconds, disabled)
VALUES ($1, $2, $3, $4, $5, $6, false)
ON CONFLICT (org_id, id) DO UPDATE SET
    name = EXCLUDED.name, provider = EXCLUDED.provider, secrets = EXCLUDED.secrets,
    tolerance_seconds = EXCLUDED.tolerance_seconds, disabled = false, updated_at = now()`

const insertEndpointRouteSQL = `
INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('webhook_endpoint', $2, $1, $3)
ON CONFLICT DO NOTHING`

const disableEndpointSQL = `
UPDATE webhook_endpoints SET disabled = true, updated_at = now()
WHERE org_id = $1 AND id = $2 AND NOT disabled`

const deleteRouteKeySQL = `DELETE FROM route_keys WHERE kind = 'webhook_endpoint' AND key = $1`

// store brings the endpoint's row and route key to the spec in one tenant
// transaction with its audit entry. Sealing makes new bytes every time, so
// the stored secrets are decrypted and compared first: an endpoint that is
// as wanted is not written.
func (r *WebhookEndpointReconciler) store(ctx context.Context, t *endpointTarget, ep *rekomiv1.WebhookEndpoint, id uuid.UUID, secrets []string) error {
	want := desiredEndpointRow(ep, secrets)
	err := t.db.TenantTx(ctx, t.orgID, func(tx pgx.Tx) error {
		stored, err := loadEndpoint(ctx, tx, t, id)
		if err != nil {
			return err
		}
		if action := endpointAction(stored, want); action != "" {
			if err := writeEndpoint(ctx, tx, t, id, want); err != nil {
				return err
			}
			if _, err := audit.Append(ctx, tx, t.orgID, endpointEntry(action, id, want)); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, insertEndpointRouteSQL, t.orgID, id.String(), id); err != nil {
			return fmt.Errorf("adding route key: %w", db.MapError(err))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing webhook endpoint %s/%s in region %s: %w", ep.Namespace, ep.Name, t.region.Name, err)
	}
	return nil
}

// loadEndpoint reads the endpoint's row, or nil when there is none. Secrets
// that do not decrypt (a retired key, a damaged value) read as nil, so they
// are written again.
func loadEndpoint(ctx context.Context, tx pgx.Tx, t *endpointTarget, id uuid.UUID) (*endpointRow, error) {
	var row endpointRow
	var sealed []byte
	err := tx.QueryRow(ctx, selectEndpointSQL, t.orgID, id).Scan(&row.name, &row.provider, &sealed, &row.toleranceSeconds, &row.disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading webhook endpoint: %w", db.MapError(err))
	}
	if plain, err := t.ring.Decrypt(sealed, webhook.SecretsAAD(id)); err == nil {
		var secrets []string
		if json.Unmarshal(plain, &secrets) == nil && secrets != nil {
			row.secrets = secrets
		}
	}
	return &row, nil
}

func writeEndpoint(ctx context.Context, tx pgx.Tx, t *endpointTarget, id uuid.UUID, want endpointRow) error {
	plain, err := json.Marshal(want.secrets)
	if err != nil {
		return fmt.Errorf("encoding secrets: %w", err)
	}
	sealed, err := t.ring.Encrypt(plain, webhook.SecretsAAD(id))
	if err != nil {
		return fmt.Errorf("sealing secrets: %w", err)
	}
	if _, err := tx.Exec(ctx, releaseEndpointNameSQL, t.orgID, want.name, id); err != nil {
		return fmt.Errorf("releasing the name of a disabled endpoint: %w", db.MapError(err))
	}
	if _, err := tx.Exec(ctx, upsertEndpointSQL, t.orgID, id, want.name, want.provider, sealed, want.toleranceSeconds); err != nil {
		return fmt.Errorf("writing webhook endpoint: %w", db.MapError(err))
	}
	return nil
}

// endpointEntry is the audit entry of a write: the settings and the number
// of secrets, never a secret.
func endpointEntry(action string, id uuid.UUID, row endpointRow) audit.Entry {
	return audit.Entry{
		ActorType:  audit.ActorOperator,
		ActorID:    endpointActorID,
		Action:     action,
		TargetType: endpointKind,
		TargetID:   id.String(),
		Metadata: map[string]any{
			"name":              row.name,
			"provider":          row.provider,
			"secrets":           len(row.secrets),
			"tolerance_seconds": row.toleranceSeconds,
		},
	}
}

// disable marks the endpoint's row disabled and removes its route key, so no
// delivery reaches it any more; the row stays, since billing events refer to
// it. A row already disabled is left as it is.
func disable(ctx context.Context, t *endpointTarget, id uuid.UUID, name string) error {
	return t.db.TenantTx(ctx, t.orgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, disableEndpointSQL, t.orgID, id)
		if err != nil {
			return fmt.Errorf("disabling webhook endpoint: %w", db.MapError(err))
		}
		if _, err := tx.Exec(ctx, deleteRouteKeySQL, id.String()); err != nil {
			return fmt.Errorf("deleting route key: %w", db.MapError(err))
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		_, err = audit.Append(ctx, tx, t.orgID, audit.Entry{
			ActorType: audit.ActorOperator, ActorID: endpointActorID, Action: actionEndpointDisabled,
			TargetType: endpointKind, TargetID: id.String(), Metadata: map[string]any{"name": name},
		})
		return err
	})
}
