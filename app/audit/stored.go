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
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/db"
)

// Ref names an actor or a target.
type Ref struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// StoredEntry is an entry as read back from the log, in the form the API
// shows it: the hashes are hex. Sealed personal fields are shown opened,
// the IP address and user agent in their own fields and the rest in the
// metadata, as when they were stored in plaintext; once the organization's
// data key is gone they are absent (null, or missing from the metadata)
// and Erased is set.
type StoredEntry struct {
	Object     string          `json:"object"`
	Seq        int64           `json:"seq"`
	ID         uuid.UUID       `json:"id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      Ref             `json:"actor"`
	Action     string          `json:"action"`
	Target     Ref             `json:"target"`
	IP         *string         `json:"ip"`
	UserAgent  *string         `json:"user_agent"`
	RequestID  *string         `json:"request_id"`
	Metadata   json.RawMessage `json:"metadata"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
	// Erased: the entry's personal fields were sealed under a data key
	// that is gone, or that does not open them.
	Erased bool `json:"-"`
	// OpenErr is why the entry's personal fields did not open under a
	// data key that exists: the entry was damaged, which Verify reports.
	// nil when they opened, or when there was nothing to open them with.
	OpenErr error `json:"-"`
	// Sealed is the stored personal column until Open shows it; nil once
	// opened, or when the entry recorded no personal field.
	Sealed []byte `json:"-"`
}

// storedColumns are the audit_log columns scanStored reads, in its order.
const storedColumns = `seq, id, occurred_at, actor_type, actor_id, action, target_type, target_id,
	host(ip), user_agent, request_id, metadata::text, prev_hash, hash, personal`

// scanStored reads one entry as stored; its personal fields, if sealed,
// are opened by Open.
func scanStored(row pgx.Row) (StoredEntry, error) {
	e := StoredEntry{Object: "audit_entry"}
	var metadata string
	var prev, hash []byte
	err := row.Scan(&e.Seq, &e.ID, &e.OccurredAt, &e.Actor.Type, &e.Actor.ID, &e.Action, &e.Target.Type, &e.Target.ID,
		&e.IP, &e.UserAgent, &e.RequestID, &metadata, &prev, &hash, &e.Sealed)
	e.OccurredAt = e.OccurredAt.UTC()
	e.Metadata = json.RawMessage(metadata)
	e.PrevHash, e.Hash = hex.EncodeToString(prev), hex.EncodeToString(hash)
	return e, db.MapError(err)
}

// Open shows e's sealed personal fields, opened with key (nil: the
// organization has no data key): the IP address and user agent in their
// fields, the others in the metadata. Fields that cannot be opened are
// left out and e is marked erased; a key that exists but does not open
// them means the entry was damaged, and the error says which.
func (e *StoredEntry) Open(key *OrgKey) error {
	sealed := e.Sealed
	e.Sealed = nil
	if sealed == nil {
		return nil
	}
	if key == nil {
		e.Erased = true
		return nil
	}
	p, err := key.Open(e.Action, e.Target.Type, e.Target.ID, sealed)
	if err != nil {
		e.Erased = true
		return fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if p.IP.IsValid() {
		ip := p.IP.String()
		e.IP = &ip
	}
	if p.UserAgent != "" {
		e.UserAgent = &p.UserAgent
	}
	if len(p.Fields) == 0 {
		return nil
	}
	return e.mergeMetadata(p.Fields)
}

// mergeMetadata adds the opened personal fields to e's metadata.
func (e *StoredEntry) mergeMetadata(fields map[string]string) error {
	var metadata map[string]json.RawMessage
	if err := json.Unmarshal(e.Metadata, &metadata); err != nil {
		return fmt.Errorf("entry %d: decoding metadata: %w", e.Seq, err)
	}
	for name, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("entry %d: encoding personal field %s: %w", e.Seq, name, err)
		}
		metadata[name] = b
	}
	b, err := json.Marshal(metadata)
	if err != nil {
		return fmt.Errorf("entry %d: encoding metadata: %w", e.Seq, err)
	}
	e.Metadata = b
	return nil
}
