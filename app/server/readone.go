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
)

// readFunc loads one object of org by id inside its tenant transaction.
type readFunc[T any] func(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (T, error)

// getOne answers GET /v1/<resource>/{id}: the object, or 404 when the
// principal's organization has none with that id.
func getOne[T any](s *Server, w http.ResponseWriter, r *http.Request, doing string, read readFunc[T]) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p := principalFrom(r.Context())
	var v T
	err := s.db.TenantTx(r.Context(), p.OrgID, func(tx pgx.Tx) error {
		var err error
		v, err = read(r.Context(), tx, p.OrgID, id)
		return err
	})
	s.answer(w, r, doing, http.StatusOK, v, err)
}
