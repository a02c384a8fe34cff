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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
)

// Recorder writes the audit entries of the changes a verb makes, as made
// by whoever asked for them: an API key, an admin, a provider's event.
// Entry fills in the actor and its context (client address, request or
// event id); the verb gives the action, the target and the metadata. A
// Recorder without a Sealer (the operator's, whose entries carry nothing
// personal) appends through audit.Append, which refuses personal fields.
type Recorder struct {
	Sealer *audit.Sealer
	Entry  func(action, targetType, targetID string, metadata map[string]any) audit.Entry
}

// Record appends the entry of action on the target, with metadata and the
// personal values to seal (nil: none), to org's audit log in tx.
func (r Recorder) Record(ctx context.Context, tx pgx.Tx, org uuid.UUID, action, targetType, targetID string,
	metadata map[string]any, personal map[string]string) error {
	e := r.Entry(action, targetType, targetID, metadata)
	e.Personal = personal
	var err error
	if r.Sealer == nil {
		_, err = audit.Append(ctx, tx, org, e)
	} else {
		_, err = r.Sealer.Append(ctx, tx, org, e)
	}
	return err
}
