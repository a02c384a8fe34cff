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

package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
)

// dataKeySize is the length of an organization's data key (AES-256).
const dataKeySize = 32

// DefaultCachedKeys is how many organizations' opened data keys a Sealer
// keeps in memory unless told otherwise.
const DefaultCachedKeys = 1024

// Sealer appends entries with their personal fields sealed under their
// organization's data key, and opens them again. Each organization's key
// is random, stored in org_data_keys sealed with the Region's key ring, and
// created on first use in the writing transaction; opened keys are kept in
// memory, a bounded number of organizations at a time. It is safe for
// concurrent use.
type Sealer struct {
	ring *keyring.KeyRing

	mu   sync.Mutex // over the read, open and write of one entry of keys
	keys *lru.Cache[uuid.UUID, cachedKey]
}

// cachedKey is an opened data key and the stored bytes it came from. A key
// is used without asking the database only once it is known to be
// committed: seen by a transaction other than the one (seenIn) that first
// read it, since that one may have created it and may yet roll back.
type cachedKey struct {
	sealed    []byte
	key       *OrgKey
	seenIn    string
	committed bool
}

// NewSealer returns a Sealer whose data keys are sealed with ring, keeping
// at most maxCached organizations' keys in memory (DefaultCachedKeys when
// not positive).
func NewSealer(ring *keyring.KeyRing, maxCached int) *Sealer {
	if maxCached <= 0 {
		maxCached = DefaultCachedKeys
	}
	keys, err := lru.New[uuid.UUID, cachedKey](maxCached)
	if err != nil {
		panic("audit sealer: " + err.Error()) // maxCached is positive
	}
	return &Sealer{ring: ring, keys: keys}
}

// dataKeyAAD binds a sealed data key to its organization.
func dataKeyAAD(org uuid.UUID) []byte {
	return []byte("organization:" + org.String() + ":data-key")
}

const (
	insertDataKeySQL = `INSERT INTO org_data_keys (org_id, sealed_key) VALUES ($1, $2)
	ON CONFLICT (org_id) DO NOTHING RETURNING sealed_key, pg_current_xact_id()::text`
	selectDataKeySQL = `SELECT sealed_key, pg_current_xact_id_if_assigned()::text FROM org_data_keys WHERE org_id = $1`
)

// Append is the package's Append for an entry that may record personal
// fields: they are sealed under orgID's data key, created through q if the
// organization has none yet, and stored with their blind indexes; the
// plaintext ip and user_agent columns stay empty. An entry without
// personal fields needs no key.
func (s *Sealer) Append(ctx context.Context, q db.DBTX, orgID uuid.UUID, e Entry) (Record, error) {
	if orgID == uuid.Nil {
		return Record{}, fmt.Errorf("appending to the audit log: %w", db.ErrNoTenant)
	}
	e = e.storable()
	metadata, err := e.validate()
	if err != nil {
		return Record{}, err
	}
	if !e.hasPersonal() {
		return insert(ctx, q, orgID, e, metadata, nil, nil)
	}
	key, err := s.keyForWrite(ctx, q, orgID)
	if err != nil {
		return Record{}, fmt.Errorf("appending %s to the audit log of organization %s: %w", e.Action, orgID, err)
	}
	sealed, index, err := key.seal(e)
	if err != nil {
		return Record{}, fmt.Errorf("appending %s to the audit log of organization %s: %w", e.Action, orgID, err)
	}
	return insert(ctx, q, orgID, e, metadata, sealed, index)
}

// Key returns orgID's opened data key as q sees it, without creating one:
// nil when the organization has none (it never recorded a personal field,
// or it was purged). Entries read in q's transaction open with it.
func (s *Sealer) Key(ctx context.Context, q db.DBTX, orgID uuid.UUID) (*OrgKey, error) {
	var sealed []byte
	var xid *string
	err := q.QueryRow(ctx, selectDataKeySQL, orgID).Scan(&sealed, &xid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the data key of organization %s: %w", orgID, db.MapError(err))
	}
	return s.remember(orgID, sealed, xid)
}

// keyForWrite returns orgID's data key, creating it through q when there is
// none: a key known to be committed comes from memory, any other from the
// database.
func (s *Sealer) keyForWrite(ctx context.Context, q db.DBTX, orgID uuid.UUID) (*OrgKey, error) {
	if k := s.committed(orgID); k != nil {
		return k, nil
	}
	fresh := make([]byte, dataKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("drawing a data key: %w", err)
	}
	proposed, err := s.ring.Encrypt(fresh, dataKeyAAD(orgID))
	if err != nil {
		return nil, fmt.Errorf("sealing a new data key: %w", err)
	}
	var sealed []byte
	var xid *string
	err = q.QueryRow(ctx, insertDataKeySQL, orgID, proposed).Scan(&sealed, &xid)
	if errors.Is(err, pgx.ErrNoRows) { // the organization has a key
		err = q.QueryRow(ctx, selectDataKeySQL, orgID).Scan(&sealed, &xid)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the data key: %w", db.MapError(err))
	}
	return s.remember(orgID, sealed, xid)
}

// committed returns orgID's cached key if it is known to be committed.
func (s *Sealer) committed(orgID uuid.UUID) *OrgKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.keys.Get(orgID); ok && c.committed {
		return c.key
	}
	return nil
}

// remember opens the data key stored as sealed, read by the transaction
// with id xid (nil: one that has written nothing), and caches it. The key
// counts as committed when the reading transaction wrote nothing, or when
// a transaction other than the first to read it reads the same bytes:
// sealing draws a fresh nonce, so no other insert makes those bytes.
func (s *Sealer) remember(orgID uuid.UUID, sealed []byte, xid *string) (*OrgKey, error) {
	s.mu.Lock()
	c, ok := s.keys.Get(orgID)
	s.mu.Unlock()
	if !ok || string(c.sealed) != string(sealed) {
		raw, err := s.ring.Decrypt(sealed, dataKeyAAD(orgID))
		if err != nil {
			return nil, fmt.Errorf("opening the data key of organization %s: %w", orgID, err)
		}
		key, err := newOrgKey(orgID, raw)
		if err != nil {
			return nil, err
		}
		c = cachedKey{sealed: sealed, key: key}
		if xid != nil {
			c.seenIn = *xid
		}
	}
	c.committed = c.committed || xid == nil || (c.seenIn != "" && c.seenIn != *xid)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.Add(orgID, c)
	return c.key, nil
}
