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

package apikey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Principal is the API key a request authenticated with.
type Principal struct {
	OrgID  uuid.UUID
	KeyID  uuid.UUID
	Scopes []string
}

// ErrUnauthenticated covers every reason a key is refused: missing,
// malformed, unknown, revoked or wrong. It never says which.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticate resolves a bearer key, header being an Authorization
// header's value: its prefix through the routing table (no tenant needed),
// then its row under its organization, compared in constant time. A key
// that is not valid is ErrUnauthenticated; any other error is the
// database's.
func Authenticate(ctx context.Context, database *db.DB, header string) (Principal, error) {
	key, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	key = strings.TrimSpace(key)
	prefix, err := Parse(key)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	var p Principal
	p.OrgID, p.KeyID, err = database.LookupRoute(ctx, db.RouteAPIKeyPrefix, prefix)
	if errors.Is(err, db.ErrNoRoute) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("looking up the API key's prefix: %w", err)
	}
	var hash []byte
	var revoked *time.Time
	err = database.TenantTx(ctx, p.OrgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT hash, scopes, revoked_at FROM api_keys WHERE org_id = $1 AND id = $2`,
			p.OrgID, p.KeyID).Scan(&hash, &p.Scopes, &revoked)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("reading the API key: %w", err)
	}
	if !Matches(key, hash) || revoked != nil {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p, the request's authenticated key.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries, or the zero Principal.
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}
