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

// Package audit appends to and verifies each organization's audit log, the
// append-only, hash-chained record of who did what. Append validates an entry
// and inserts it through the caller's transaction, so it commits or rolls
// back with the change it records; the database assigns seq, prev_hash and
// hash. Verify recomputes the chain with the database's own hash function.
// Sealer.List reads an organization's entries newest first, narrowed by a
// Filter (actor, action, target, time range, free text, or a personal value
// through its blind index), with their personal fields opened: the API, its
// CSV export and the admin pages all read the log through it. Parsing a
// filter from a request is the server's job, not this package's.
//
// Personal fields (the client's IP address and user agent, and the emails,
// URLs and names an entry's Personal map holds) are never stored in
// plaintext: a Sealer seals them with AES-256-GCM under a random data key
// of the organization, kept in org_data_keys sealed with the Region's key
// ring, and stores keyed blind indexes (HMAC-SHA256) of them for
// exact-match search. The chain covers the sealed bytes, so an
// organization's purge, which deletes its data key, leaves entries that
// still verify but whose personal fields no one can open.
//
// The package never opens a transaction, never updates or deletes an entry
// (the database refuses both), and never computes a chain hash itself: the
// SQL function rekomi_audit_entry_hash is the single definition of the
// chain.
package audit
