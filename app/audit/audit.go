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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/storable"
)

// Actor types, as the audit_log table's CHECK constraint lists them.
const (
	ActorAPIKey   = "api_key"
	ActorMember   = "member"
	ActorOperator = "operator"
	ActorProvider = "provider"
	ActorSystem   = "system"
	ActorAdmin    = "admin"
)

// MaxMetadataBytes bounds an entry's metadata, encoded as JSON.
const MaxMetadataBytes = 8 << 10

// MaxUserAgentChars is how many characters of a user agent are kept.
const MaxUserAgentChars = 1024

// ErrInvalidEntry is returned, wrapped with the field at fault, for an entry
// that Append refuses before reaching the database.
var ErrInvalidEntry = errors.New("invalid audit entry")

// Entry is what happened: who (actor), what (action, such as
// "campaign.created") and to what (target), with where it came from and a
// bounded bag of details.
type Entry struct {
	ActorType  string
	ActorID    string
	Action     string
	TargetType string
	TargetID   string
	IP         netip.Addr // sealed; the zero Addr records none; a zone is dropped, IPv4-in-IPv6 stored as IPv4
	UserAgent  string     // sealed; as the client sent it, kept as storable.Text(UserAgent, MaxUserAgentChars); "" records none
	RequestID  string     // "" records none
	Metadata   map[string]any
	// Personal holds the values that identify a person (emails, URLs,
	// names), by field name, such as FieldEmail. With IP and UserAgent they
	// are sealed under the organization's data key, which purge destroys;
	// readers see them in the metadata again while the key exists. A field
	// name must not also be a metadata key.
	Personal map[string]string
}

// Record is a stored entry's place in its organization's chain, as the
// database assigned it.
type Record struct {
	Seq        int64
	ID         uuid.UUID
	OccurredAt time.Time
	PrevHash   []byte
	Hash       []byte
}

const appendSQL = `
INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id,
                       request_id, metadata, personal, personal_index)
VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8, $9, $10)
RETURNING seq, id, occurred_at, prev_hash, hash`

// Append validates e and adds it to orgID's chain through q, which should be
// the db.TenantTx that makes the change e records. It refuses an entry with
// personal fields (IP, UserAgent, Personal), which only a Sealer stores.
// The database takes a per-organization lock until q commits, so keep that
// transaction short.
// Errors from the database come back as db's sentinels (db.ErrForbidden when
// q's tenant is not orgID).
func Append(ctx context.Context, q db.DBTX, orgID uuid.UUID, e Entry) (Record, error) {
	if orgID == uuid.Nil {
		return Record{}, fmt.Errorf("appending to the audit log: %w", db.ErrNoTenant)
	}
	e = e.storable()
	metadata, err := e.validate()
	if err != nil {
		return Record{}, err
	}
	if e.hasPersonal() {
		return Record{}, fmt.Errorf("%w: %s records personal fields, which only a Sealer stores", ErrInvalidEntry, e.Action)
	}
	return insert(ctx, q, orgID, e, metadata, nil, nil)
}

// storable returns e with its user agent, which the client chooses byte for
// byte, made storable rather than refused.
func (e Entry) storable() Entry {
	e.UserAgent = storable.Text(e.UserAgent, MaxUserAgentChars)
	return e
}

// insert adds the validated e with its sealed personal fields and their
// blind indexes (nil, nil: none) to orgID's chain.
func insert(ctx context.Context, q db.DBTX, orgID uuid.UUID, e Entry, metadata json.RawMessage, personal []byte, index [][]byte) (Record, error) {
	var r Record
	err := q.QueryRow(ctx, appendSQL, orgID, e.ActorType, e.ActorID, e.Action, e.TargetType, e.TargetID,
		e.RequestID, metadata, personal, index).Scan(&r.Seq, &r.ID, &r.OccurredAt, &r.PrevHash, &r.Hash)
	if err != nil {
		return Record{}, fmt.Errorf("appending %s to the audit log of organization %s: %w", e.Action, orgID, db.MapError(err))
	}
	return r, nil
}

// validate checks e against the table's constraints and returns its metadata
// encoded as JSON.
func (e Entry) validate() (json.RawMessage, error) {
	if !validActorType(e.ActorType) {
		return nil, fmt.Errorf("%w: unknown actor type %q", ErrInvalidEntry, e.ActorType)
	}
	for _, f := range []struct {
		name     string
		value    string
		max      int
		required bool
	}{
		{"action", e.Action, 100, true},
		{"actor id", e.ActorID, 255, true},
		{"target type", e.TargetType, 100, true},
		{"target id", e.TargetID, 255, true},
		{"request id", e.RequestID, 128, false},
	} {
		if err := checkText(f.name, f.value, f.max, f.required); err != nil {
			return nil, err
		}
	}
	if !validAction(e.Action) {
		return nil, fmt.Errorf("%w: action %q must be dot-separated lower-case words, such as campaign.created",
			ErrInvalidEntry, e.Action)
	}
	if err := e.checkPersonal(); err != nil {
		return nil, err
	}
	return encodeMetadata(e.Metadata)
}

func validActorType(s string) bool {
	switch s {
	case ActorAPIKey, ActorMember, ActorOperator, ActorProvider, ActorSystem, ActorAdmin:
		return true
	}
	return false
}

// validAction matches ^[a-z_]+(\.[a-z_]+)+$: two or more dot-separated words
// of lower-case letters and underscores.
func validAction(s string) bool {
	words := strings.Split(s, ".")
	if len(words) < 2 {
		return false
	}
	for _, w := range words {
		if w == "" || strings.TrimLeft(w, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return false
		}
	}
	return true
}

// checkText refuses what PostgreSQL's text would: invalid UTF-8, NUL, and
// more characters (not bytes) than the column's check allows.
func checkText(name, value string, limit int, required bool) error {
	switch {
	case required && value == "":
		return fmt.Errorf("%w: %s is required", ErrInvalidEntry, name)
	case !utf8.ValidString(value) || strings.ContainsRune(value, 0):
		return fmt.Errorf("%w: %s must be UTF-8 text without NUL", ErrInvalidEntry, name)
	case utf8.RuneCountInString(value) > limit:
		return fmt.Errorf("%w: %s is longer than %d characters", ErrInvalidEntry, name, limit)
	}
	return nil
}

// encodeMetadata encodes m as a JSON object of at most MaxMetadataBytes; nil
// is the empty object. The database also bounds the stored jsonb, whose size
// can differ a little from the JSON text's.
func encodeMetadata(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding metadata: %w", ErrInvalidEntry, err)
	}
	if len(b) > MaxMetadataBytes {
		return nil, fmt.Errorf("%w: metadata is %d bytes of JSON, more than %d", ErrInvalidEntry, len(b), MaxMetadataBytes)
	}
	if hasNULEscape(b) {
		return nil, fmt.Errorf("%w: metadata must not contain NUL characters", ErrInvalidEntry)
	}
	return b, nil
}

// hasNULEscape reports whether JSON text b escapes a NUL (\u0000), which
// jsonb refuses.
func hasNULEscape(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if bytes.HasPrefix(b[i+1:], []byte("u0000")) {
			return true
		}
		i++ // the escaped character, which may itself be a backslash
	}
	return false
}
