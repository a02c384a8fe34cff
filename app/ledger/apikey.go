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
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/db"
)

// Scope is what an API key may do.
type Scope string

const (
	// ScopeRead reads an organization's objects.
	ScopeRead Scope = "read"
	// ScopeWrite changes them.
	ScopeWrite Scope = "write"
)

// Valid says whether s is a scope a key may hold.
func (s Scope) Valid() bool {
	return s == ScopeRead || s == ScopeWrite
}

// NormalizeScopes returns scopes sorted, each once: the form a key's
// scopes are stored and audited in.
func NormalizeScopes(scopes []Scope) []Scope {
	out := slices.Clone(scopes)
	slices.Sort(out)
	return slices.Compact(out)
}

// APIKey is an API key as the API shows it. Secret is set only in the
// answer that creates the key: it is stored nowhere but as a hash.
type APIKey struct {
	Object    string     `json:"object"`
	ID        uuid.UUID  `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Scopes    []Scope    `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	Secret    string     `json:"secret,omitempty"`
}

const apiKeyColumns = `id, name, prefix, scopes, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	k := APIKey{Object: "api_key"}
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.Scopes, &k.CreatedAt, &k.RevokedAt)
	return k, db.MapError(err)
}

var apiKeyQuery = Query[APIKey]{Table: "api_keys", Columns: apiKeyColumns, Scan: scanAPIKey}

// GetAPIKey reads API key id of org, or db.ErrNotFound.
func GetAPIKey(ctx context.Context, tx pgx.Tx, org, id uuid.UUID) (APIKey, error) {
	return Get(ctx, tx, org, apiKeyQuery, id)
}

// ListAPIKeys reads a page of org's API keys, revoked ones included.
func ListAPIKeys(ctx context.Context, tx pgx.Tx, org uuid.UUID, p Page) (List[APIKey], error) {
	return ListPage(ctx, tx, org, apiKeyQuery, p)
}

// NewAPIKey is an API key to create.
type NewAPIKey struct {
	Name   string
	Scopes []Scope
	// CreatedBy is who creates the key, as api_keys.created_by keeps it:
	// "api_key:<id>" for a key made through the API, "operator" for an
	// organization's first admin key.
	CreatedBy string
	// Secret is the whole key when the caller generated it already (the
	// operator delivers the admin key in a Secret before it stores it);
	// empty, CreateAPIKey generates one.
	Secret string
	// Metadata is added to the audit entry, such as where the key was
	// delivered.
	Metadata map[string]any
}

// CreateAPIKey stores k for org, as the hash of its secret, routes its
// prefix to org, and audits it (api_key.created), returning the key with
// its Secret: the one time the secret can be read. Its scopes are stored
// as NormalizeScopes returns them. The API creates keys with it, and so
// does the operator, an organization's first admin key.
func CreateAPIKey(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, k NewAPIKey) (APIKey, error) {
	secret, prefix, err := apiKeySecret(k.Secret)
	if err != nil {
		return APIKey{}, err
	}
	scopes := NormalizeScopes(k.Scopes)
	hash := apikey.Hash(secret)
	key, err := scanAPIKey(tx.QueryRow(ctx, `INSERT INTO api_keys (org_id, name, prefix, hash, scopes, created_by)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+apiKeyColumns, org, k.Name, prefix, hash[:], scopes, k.CreatedBy))
	if err != nil {
		return APIKey{}, fmt.Errorf("storing API key %q: %w", k.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ($1, $2, $3, $4)`,
		string(db.RouteAPIKeyPrefix), prefix, org, key.ID); err != nil {
		return APIKey{}, fmt.Errorf("routing the prefix of API key %s: %w", key.ID, db.MapError(err))
	}
	meta := map[string]any{"name": k.Name, "prefix": prefix, "scopes": scopes}
	maps.Copy(meta, k.Metadata)
	if err := rec.Record(ctx, tx, org, "api_key.created", "api_key", key.ID.String(), meta, nil); err != nil {
		return APIKey{}, err
	}
	key.Secret = secret
	return key, nil
}

// apiKeySecret returns the given secret and its prefix, or a new secret
// when none is given.
func apiKeySecret(given string) (secret, prefix string, err error) {
	if given == "" {
		return apikey.Generate(rand.Reader)
	}
	prefix, err = apikey.Parse(given)
	if err != nil {
		return "", "", fmt.Errorf("reading the given API key: %w", err)
	}
	return given, prefix, nil
}

// RevokeAPIKey revokes API key id of org and audits it (api_key.revoked),
// returning the key as it is now and whether this call revoked it: a key
// revoked before stays as it was, and nothing is audited. The API and the
// admin pages both revoke through it.
func RevokeAPIKey(ctx context.Context, tx pgx.Tx, org uuid.UUID, rec Recorder, id uuid.UUID) (APIKey, bool, error) {
	key, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
	if err != nil || key.RevokedAt != nil {
		return key, false, db.Wrap("locking API key "+id.String(), err)
	}
	key, err = scanAPIKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now()
		WHERE org_id = $1 AND id = $2 RETURNING `+apiKeyColumns, org, id))
	if err != nil {
		return key, false, fmt.Errorf("revoking API key %s: %w", id, err)
	}
	return key, true, rec.Record(ctx, tx, org, "api_key.revoked", "api_key", id.String(), nil, nil)
}
