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
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Personal field names the app records. An entry's Personal map may use
// others; these are the ones a search without a field name looks in.
const (
	// FieldIP is the client's IP address, from Entry.IP.
	FieldIP = "ip"
	// FieldEmail is an affiliate's or a member's email address.
	FieldEmail = "email"
	// FieldEmailWas is a member's email address before a change.
	FieldEmailWas = "email_was"
	// FieldDestinationURL is where a referral link sends its visitors.
	FieldDestinationURL = "destination_url"
)

// SearchedFields are the fields a search by value alone looks in.
var SearchedFields = []string{FieldIP, FieldEmail, FieldEmailWas, FieldDestinationURL}

// Bounds of an entry's personal values.
const (
	maxPersonalFields = 16
	maxPersonalChars  = 2048
	maxFieldNameChars = 64
)

// ErrErased is returned when an entry's personal fields cannot be opened
// because its organization's data key is gone: the organization was purged.
var ErrErased = errors.New("personal fields erased")

// Personal is what a sealed entry says about people, once opened.
type Personal struct {
	IP        netip.Addr        // the zero Addr when the entry recorded none
	UserAgent string            // "" when the entry recorded none
	Fields    map[string]string // the entry's Personal map; nil when it had none
}

// sealedPersonal is the plaintext of audit_log.personal.
type sealedPersonal struct {
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// sealVersion is the first byte of audit_log.personal: version 1 is a
// 12-byte random nonce followed by the AES-256-GCM ciphertext and tag.
const sealVersion = 0x01

// Purposes of the keys derived from a data key with HKDF-SHA256.
const (
	sealPurpose  = "rekomi audit personal seal v1"
	indexPurpose = "rekomi audit personal index v1"
)

// OrgKey is an organization's opened data key: the subkey that seals its
// entries' personal fields and the subkey of its blind indexes. It is
// safe for concurrent use.
type OrgKey struct {
	org   uuid.UUID
	aead  cipher.AEAD
	index []byte
}

// newOrgKey derives the subkeys of org's 32-byte data key.
func newOrgKey(org uuid.UUID, dataKey []byte) (*OrgKey, error) {
	sealKey, err := deriveKey(dataKey, sealPurpose)
	if err != nil {
		return nil, err
	}
	index, err := deriveKey(dataKey, indexPurpose)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("preparing the data key of organization %s: %w", org, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("preparing the data key of organization %s: %w", org, err)
	}
	return &OrgKey{org: org, aead: aead, index: index}, nil
}

// personalAAD binds sealed fields to their organization and to the parts of
// the entry the client knows before the insert (the database assigns seq
// and id). No part contains NUL, so the separators are unambiguous.
func personalAAD(org uuid.UUID, action, targetType, targetID string) []byte {
	return []byte("audit_log\x00" + org.String() + "\x00" + action + "\x00" + targetType + "\x00" + targetID)
}

// seal returns e's personal fields sealed, and their blind indexes; nil,
// nil when e has none.
func (k *OrgKey) seal(e Entry) ([]byte, [][]byte, error) {
	p := sealedPersonal{UserAgent: e.UserAgent, Fields: e.Personal}
	var index [][]byte
	if e.IP.IsValid() {
		p.IP = e.IP.WithZone("").Unmap().String()
		index = append(index, k.Index(FieldIP, p.IP))
	}
	for name, v := range e.Personal {
		index = append(index, k.Index(name, v))
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding personal fields: %w", err)
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("drawing a nonce: %w", err)
	}
	out := append([]byte{sealVersion}, nonce...)
	out = k.aead.Seal(out, nonce, plain, personalAAD(k.org, e.Action, e.TargetType, e.TargetID))
	slices.SortFunc(index, compareBytes)
	return out, slices.CompactFunc(index, equalBytes), nil
}

// Open opens the personal fields an entry of the key's organization sealed
// with the given action and target. It fails when sealed was altered or
// moved to another entry.
func (k *OrgKey) Open(action, targetType, targetID string, sealed []byte) (Personal, error) {
	n := k.aead.NonceSize()
	if len(sealed) < 1+n+k.aead.Overhead() || sealed[0] != sealVersion {
		return Personal{}, errors.New("opening personal fields: not sealed in a known format")
	}
	plain, err := k.aead.Open(nil, sealed[1:1+n], sealed[1+n:], personalAAD(k.org, action, targetType, targetID))
	if err != nil {
		return Personal{}, fmt.Errorf("opening personal fields: %w", err)
	}
	var p sealedPersonal
	if err := json.Unmarshal(plain, &p); err != nil {
		return Personal{}, fmt.Errorf("decoding personal fields: %w", err)
	}
	out := Personal{UserAgent: p.UserAgent, Fields: p.Fields}
	if p.IP != "" {
		if out.IP, err = netip.ParseAddr(p.IP); err != nil {
			return Personal{}, fmt.Errorf("decoding personal fields: %w", err)
		}
	}
	return out, nil
}

// Index is the blind index of a personal value: HMAC-SHA256 under the
// organization's index key of the field name, a colon and the value
// normalised for the field. The same value gives other bytes in another
// organization, so indexes correlate nothing across tenants.
func (k *OrgKey) Index(field, value string) []byte {
	mac := hmac.New(sha256.New, k.index)
	mac.Write([]byte(field + ":" + Normalise(field, value)))
	return mac.Sum(nil)
}

// Normalise is the form of a value a blind index covers: an IP address in
// canonical text (IPv4-in-IPv6 as IPv4, no zone), an email address trimmed
// and lower-cased, anything else as it is.
func Normalise(field, value string) string {
	switch {
	case field == FieldIP:
		if ip, err := netip.ParseAddr(strings.TrimSpace(value)); err == nil {
			return ip.WithZone("").Unmap().String()
		}
		return value
	case strings.Contains(field, "email"):
		return strings.ToLower(strings.TrimSpace(value))
	}
	return value
}

// deriveKey derives a 32-byte subkey of key for purpose.
func deriveKey(key []byte, purpose string) ([]byte, error) {
	out, err := hkdf.Key(sha256.New, key, nil, purpose, dataKeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving the %q key: %w", purpose, err)
	}
	return out, nil
}

// checkPersonal checks e's personal values against their bounds and its
// metadata: a personal field shares no name with a metadata key, since a
// reader sees both in one object.
func (e Entry) checkPersonal() error {
	if len(e.Personal) > maxPersonalFields {
		return fmt.Errorf("%w: more than %d personal fields", ErrInvalidEntry, maxPersonalFields)
	}
	for name, v := range e.Personal {
		if name == "" || len(name) > maxFieldNameChars || strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return fmt.Errorf("%w: personal field name %q must be 1 to %d lower-case letters or underscores",
				ErrInvalidEntry, name, maxFieldNameChars)
		}
		if _, ok := e.Metadata[name]; ok {
			return fmt.Errorf("%w: %s is both a personal field and a metadata key", ErrInvalidEntry, name)
		}
		if err := checkText("personal field "+name, v, maxPersonalChars, false); err != nil {
			return err
		}
	}
	return nil
}

// hasPersonal reports whether e records anything about a person.
func (e Entry) hasPersonal() bool {
	return e.IP.IsValid() || e.UserAgent != "" || len(e.Personal) > 0
}

func compareBytes(a, b []byte) int { return strings.Compare(string(a), string(b)) }
func equalBytes(a, b []byte) bool  { return string(a) == string(b) }
