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

// Package keyring owns the per-Region key ring that encrypts signing secrets
// (webhook secrets, recoverable API key material) before they are stored in
// PostgreSQL, and its serialised form in the Kubernetes Secret the operator
// creates. It never stores, logs or returns key material or plaintext in an
// error, and it holds no global state: every ring is an immutable value, and
// rotation or retirement returns a new ring.
//
// # Keys and key ids
//
// A ring holds AES-256 keys of [KeySize] bytes, one of them the primary, which
// encrypts. A new key id is eight lowercase hex characters (four bytes read
// from the same source as the key, redrawn if taken), so a ring that is lost
// and generated again almost never reuses an id, and a ciphertext from the
// lost ring fails with [ErrUnknownKey] rather than [ErrAuthenticationFailed].
// [Parse] also accepts hand-written ids of 1 to 32 characters from a-z, 0-9,
// '_' and '-'.
//
// # Ciphertext format
//
//	version (1 byte, 0x01)
//	key id length n (1 byte, 1 to 32)
//	key id (n bytes)
//	nonce (12 random bytes)
//	AES-256-GCM ciphertext and 16-byte tag
//
// The GCM additional data is the header (version, length and key id) followed
// by the caller's associated data, which binds a ciphertext to its row, for
// example "webhook_endpoint:<uuid>". The nonce comes from crypto/rand for
// every encryption; random 96-bit nonces limit a key to 2^32 encryptions, so
// rotate well before that. Input too short to hold the header, nonce and tag
// is [ErrMalformedCiphertext]; longer input that was cut short, or whose
// nonce, ciphertext or tag was altered, fails with [ErrAuthenticationFailed].
//
// # Secret format
//
// The ring is stored under [SecretKey] in a Secret as a JSON document:
//
//	{"version":1,"primary":"3f9a0c12","keys":{"3f9a0c12":"<base64>","b7e14d05":"<base64>"}}
//
// Version 2 adds when keys were made, for the keys whose creation the ring
// records ([GenerateAt], [KeyRing.RotateAt]); a ring that records none is
// written as version 1:
//
//	{"version":2,"primary":"3f9a0c12","keys":{...},"created":{"3f9a0c12":"2026-12-04T09:00:00Z"}}
//
// Keys are standard (padded) base64. [Parse] rejects unknown fields,
// duplicate members, trailing data, invalid key ids, keys that are not
// [KeySize] bytes, two ids sharing one key, and a primary that is not among
// the keys, and in version 2 a creation time that is not RFC 3339 or names
// no key.
package keyring
