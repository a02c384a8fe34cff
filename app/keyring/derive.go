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

package keyring

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// DerivedKeySize is the length in bytes of a key DeriveKey returns.
const DerivedKeySize = 32

// DeriveKey returns a key for one purpose, such as "rekomi admin session
// v1", derived with HKDF-SHA256 from the ring's key id. The same id and
// purpose always give the same key, so a MAC made under it verifies in
// every process holding the ring, for as long as the id stays in the ring;
// different purposes give unrelated keys, and no derived key reveals the
// key it came from. It fails with ErrUnknownKey for an id not in the ring.
func (r *KeyRing) DeriveKey(id, purpose string) ([]byte, error) {
	k, ok := r.lookup(id)
	if !ok {
		return nil, fmt.Errorf("deriving a key: key %s: %w", describeID(id), ErrUnknownKey)
	}
	if purpose == "" {
		return nil, errors.New("deriving a key: the purpose is empty")
	}
	out, err := hkdf.Key(sha256.New, k.material, nil, purpose, DerivedKeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving a key: %w", err)
	}
	return out, nil
}
