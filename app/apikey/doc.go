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

// Package apikey owns the format of the API keys merchants authenticate with:
//
//	rk_live_<prefix>_<secret>
//
// The prefix is 12 random characters of the lower-case base32 alphabet
// (a-z, 2-7). It is public: it is stored in api_keys.prefix and in the routing
// table, so that a request's key finds its organization before the tenant is
// known. The secret is 52 random characters of the same alphabet (260 bits).
// Only the SHA-256 of the whole key is stored.
//
// The package generates, parses, hashes and compares keys, and authenticates
// a request's bearer key against the database (Authenticate), giving the
// Principal a request acts as. It never stores a key, and its errors never
// quote one.
package apikey
