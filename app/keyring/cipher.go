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
	"errors"
	"fmt"
)

const (
	ciphertextVersion = 0x01
	nonceSize         = 12
	tagSize           = 16
)

var (
	// ErrUnknownKey reports a key id that is not in the ring.
	ErrUnknownKey = errors.New("unknown key id")
	// ErrMalformedCiphertext reports bytes that are not a ciphertext in the
	// format this package writes: too short, an unknown version or a bad key id.
	ErrMalformedCiphertext = errors.New("malformed ciphertext")
	// ErrAuthenticationFailed reports a ciphertext that does not open under
	// its key and associated data: it was altered, moved to another row or
	// made under a different key with the same id.
	ErrAuthenticationFailed = errors.New("ciphertext authentication failed")
)

// Encrypt seals plaintext under the primary key. aad binds the ciphertext to
// its row (for example "webhook_endpoint:<uuid>"); Decrypt must be given the
// same aad. The result names the primary key id, so it decrypts after
// rotation for as long as that key stays in the ring.
func (r *KeyRing) Encrypt(plaintext, aad []byte) ([]byte, error) {
	k, err := r.primaryKey()
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	header := appendHeader(nil, r.primary)
	out := make([]byte, 0, len(header)+k.aead.Overhead()+len(plaintext))
	out = append(out, header...)
	return k.aead.Seal(out, nil, plaintext, additionalData(header, aad)), nil
}

// Decrypt opens a ciphertext made by Encrypt with the key it names and the
// same aad. It fails with ErrMalformedCiphertext, ErrUnknownKey or
// ErrAuthenticationFailed.
func (r *KeyRing) Decrypt(ciphertext, aad []byte) ([]byte, error) {
	header, id, sealed, err := splitCiphertext(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("decrypting: %w", err)
	}
	k, ok := r.lookup(id)
	if !ok {
		return nil, fmt.Errorf("decrypting: key %s: %w", describeID(id), ErrUnknownKey)
	}
	plaintext, err := k.aead.Open(nil, nil, sealed, additionalData(header, aad))
	if err != nil {
		return nil, fmt.Errorf("decrypting: key %s: %w", describeID(id), ErrAuthenticationFailed)
	}
	return plaintext, nil
}

func appendHeader(dst []byte, id string) []byte {
	dst = append(dst, ciphertextVersion, byte(len(id)))
	return append(dst, id...)
}

// additionalData is the GCM additional data: the header, which is
// self-delimiting, followed by the caller's aad.
func additionalData(header, aad []byte) []byte {
	ad := make([]byte, 0, len(header)+len(aad))
	ad = append(ad, header...)
	return append(ad, aad...)
}

// splitCiphertext checks the layout of a ciphertext and returns its header,
// key id and the nonce, GCM ciphertext and tag that follow.
func splitCiphertext(ciphertext []byte) (header []byte, id string, sealed []byte, err error) {
	if len(ciphertext) < 2 {
		return nil, "", nil, fmt.Errorf("%w: too short", ErrMalformedCiphertext)
	}
	if v := ciphertext[0]; v != ciphertextVersion {
		return nil, "", nil, fmt.Errorf("%w: unsupported version %d", ErrMalformedCiphertext, v)
	}
	end := 2 + int(ciphertext[1])
	if len(ciphertext) < end {
		return nil, "", nil, fmt.Errorf("%w: too short", ErrMalformedCiphertext)
	}
	id = string(ciphertext[2:end])
	if !validKeyID(id) {
		return nil, "", nil, fmt.Errorf("%w: invalid key id", ErrMalformedCiphertext)
	}
	sealed = ciphertext[end:]
	if len(sealed) < nonceSize+tagSize {
		return nil, "", nil, fmt.Errorf("%w: too short", ErrMalformedCiphertext)
	}
	return ciphertext[:end], id, sealed, nil
}
