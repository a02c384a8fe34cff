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

package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// ErrOrganizationCancelled refuses a change to an organization that is not
// active: a cancelled organization can be read until its purge, not
// changed.
var ErrOrganizationCancelled = errors.New("the organization is cancelled")

// RequireActive returns ErrOrganizationCancelled unless org is active.
// Every change made for a merchant (the API's writes, the admin pages')
// checks it first, in the transaction that makes the change.
func RequireActive(ctx context.Context, tx pgx.Tx, org uuid.UUID) error {
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM organizations WHERE id = $1`, org).Scan(&status); err != nil {
		return fmt.Errorf("reading the organization's status: %w", db.MapError(err))
	}
	if status != "active" {
		return ErrOrganizationCancelled
	}
	return nil
}
