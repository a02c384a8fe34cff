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

package trust

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// pemType is the PEM block of a private key in PKCS #8, as openssl
// writes an Ed25519 key.
const pemType = "PRIVATE KEY"

// GenerateKey draws a statement key from rand (crypto/rand.Reader outside
// tests) and encodes it as MarshalKey does.
func GenerateKey(rand io.Reader) (ed25519.PrivateKey, []byte, error) {
	_, key, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("drawing the trust statement key: %w", err)
	}
	data, err := MarshalKey(key)
	return key, data, err
}

// MarshalKey encodes a statement key as PEM of PKCS #8, the form
// `openssl pkey` reads.
func MarshalKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the trust statement key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParseKey reads a statement key that MarshalKey wrote: one PEM block of
// an Ed25519 key in PKCS #8, and nothing else.
func ParseKey(data []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != pemType {
		return nil, errors.New("not a PEM private key (PKCS #8)")
	}
	if len(rest) > 0 && len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("more than one PEM block")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %w", err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 key", parsed)
	}
	return key, nil
}

// PublicKeyString is the base64 form of key's public half that the
// Region's status and /trust page publish.
func PublicKeyString(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
}

// ParsePublicKey reads a public key in the form PublicKeyString writes.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("a trust public key is %d bytes in base64", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}
