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
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/ledger"
)

// operatorActorID names the operator in the audit log.
const operatorActorID = "rekomi-operator"

// operatorCreatedBy marks the API keys the operator created in
// api_keys.created_by.
const operatorCreatedBy = "operator"

// orgFacts is what the database holds about one organization.
type orgFacts struct {
	row *orgRow // nil when there is no row
	// hasAdminKey: an API key created by the operator exists, so the first
	// admin key was delivered and is never generated again.
	hasAdminKey bool
}

const readOrgSQL = `
SELECT name, display_name, plan, status, cancelled_at, purge_at, payout_limit_per_payout, payout_limit_per_day
  FROM organizations WHERE id = $1`

const hasAdminKeySQL = `SELECT EXISTS (SELECT FROM api_keys WHERE org_id = $1 AND created_by = $2)`

// readOrg reads the organization's row and whether its admin key exists.
func readOrg(ctx context.Context, pool *db.DB, id uuid.UUID) (orgFacts, error) {
	var facts orgFacts
	err := pool.TenantTx(ctx, id, func(tx pgx.Tx) error {
		var row orgRow
		err := tx.QueryRow(ctx, readOrgSQL, id).Scan(&row.Name, &row.DisplayName, &row.Plan, &row.Status, &row.CancelledAt, &row.PurgeAt,
			&row.PerPayout, &row.PerDay)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		facts.row = &row
		return tx.QueryRow(ctx, hasAdminKeySQL, id, operatorCreatedBy).Scan(&facts.hasAdminKey)
	})
	if err != nil {
		return orgFacts{}, fmt.Errorf("reading organization %s: %w", id, db.MapError(err))
	}
	return facts, nil
}

// upsertOrgSQL writes the row, and leaves it untouched when nothing differs.
const upsertOrgSQL = `
INSERT INTO organizations (id, name, display_name, plan, status, cancelled_at, purge_at, payout_limit_per_payout, payout_limit_per_day)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE
SET name = EXCLUDED.name, display_name = EXCLUDED.display_name, plan = EXCLUDED.plan, status = EXCLUDED.status,
    cancelled_at = EXCLUDED.cancelled_at, purge_at = EXCLUDED.purge_at,
    payout_limit_per_payout = EXCLUDED.payout_limit_per_payout, payout_limit_per_day = EXCLUDED.payout_limit_per_day,
    updated_at = now()
WHERE (organizations.name, organizations.display_name, organizations.plan, organizations.status,
       organizations.cancelled_at, organizations.purge_at,
       organizations.payout_limit_per_payout, organizations.payout_limit_per_day)
      IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.display_name, EXCLUDED.plan, EXCLUDED.status, EXCLUDED.cancelled_at, EXCLUDED.purge_at,
       EXCLUDED.payout_limit_per_payout, EXCLUDED.payout_limit_per_day)`

// adminKeyName and adminKeyScopes describe the first admin API key.
const adminKeyName = "admin"

var adminKeyScopes = []ledger.Scope{ledger.ScopeRead, ledger.ScopeWrite}

// writeOrg writes want over stored, with its audit entries, and the admin
// key when key is not empty, all in one transaction.
func writeOrg(ctx context.Context, pool *db.DB, id uuid.UUID, stored *orgRow, want orgRow, key string, where orgPlace) error {
	actions := rowActions(stored, want)
	if len(actions) == 0 && key == "" {
		return nil
	}
	err := pool.TenantTx(ctx, id, func(tx pgx.Tx) error {
		if len(actions) > 0 {
			if _, err := tx.Exec(ctx, upsertOrgSQL, id, want.Name, want.DisplayName, want.Plan, want.Status,
				want.CancelledAt, want.PurgeAt, want.PerPayout, want.PerDay); err != nil {
				return fmt.Errorf("writing the organization row: %w", db.MapError(err))
			}
		}
		for _, action := range actions {
			if _, err := audit.Append(ctx, tx, id, operatorEntry(action, "organization", id.String(), rowMetadata(action, stored, want, where))); err != nil {
				return err
			}
		}
		if key == "" {
			return nil
		}
		return insertAdminKey(ctx, tx, id, key, where)
	})
	if err != nil {
		return fmt.Errorf("provisioning organization %s: %w", id, err)
	}
	return nil
}

// insertAdminKey stores the admin key, delivered in the Secret named by
// where, as the operator's: audited by the operator, with where it was
// delivered.
func insertAdminKey(ctx context.Context, tx pgx.Tx, id uuid.UUID, key string, where orgPlace) error {
	_, err := ledger.CreateAPIKey(ctx, tx, id, ledger.Recorder{Entry: operatorEntry}, ledger.NewAPIKey{
		Name: adminKeyName, Scopes: adminKeyScopes, CreatedBy: operatorCreatedBy, Secret: key,
		Metadata: map[string]any{"delivered_in": where.keySecret},
	})
	if err != nil {
		return fmt.Errorf("storing the admin API key: %w", err)
	}
	return nil
}

// rowMetadata details an organization's audit entry.
func rowMetadata(action string, stored *orgRow, want orgRow, where orgPlace) map[string]any {
	switch action {
	case actionCreated:
		return map[string]any{"name": want.Name, "display_name": want.DisplayName, "plan": want.Plan, "region": where.region,
			"payout_limit_per_payout": want.PerPayout, "payout_limit_per_day": want.PerDay}
	case actionUpdated:
		return map[string]any{"changes": rowChanges(*stored, want)}
	case actionCancelled:
		return map[string]any{"cancelled_at": want.CancelledAt.UTC().Format(time.RFC3339), "purge_at": want.PurgeAt.UTC().Format(time.RFC3339)}
	}
	return nil
}

// operatorEntry is an audit entry whose actor is the operator.
func operatorEntry(action, targetType, targetID string, metadata map[string]any) audit.Entry {
	return audit.Entry{
		ActorType: audit.ActorOperator, ActorID: operatorActorID, Action: action,
		TargetType: targetType, TargetID: targetID, Metadata: metadata,
	}
}

// orgPlace says where an organization lives, for its audit entries.
type orgPlace struct {
	region    string // the Region's name
	keySecret string // namespace/name of the admin key Secret
}

func placeOf(org *rekomiv1.Organization, region *rekomiv1.Region) orgPlace {
	return orgPlace{region: region.Name, keySecret: region.Spec.Namespace + "/" + AdminKeySecretName(org.Name)}
}
