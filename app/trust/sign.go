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
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/gowebpki/jcs"
)

// Algorithm is the one signature algorithm of a signed statement.
const Algorithm = "Ed25519"

var (
	// ErrNotSigned means a document is not a signed statement: malformed,
	// or missing its statement or signature.
	ErrNotSigned = errors.New("not a signed trust statement")
	// ErrUntrustedKey means the statement is signed, if at all, by another
	// key than the Region's.
	ErrUntrustedKey = errors.New("signed by another key than the one given")
	// ErrBadSignature means the signature does not cover the statement:
	// the statement or the signature was changed after signing.
	ErrBadSignature = errors.New("the signature does not match the statement")
)

// Signed is a statement as it is published: the statement, and an Ed25519
// signature over its RFC 8785 (JSON Canonicalization Scheme) form, so that
// the statement verifies however it is re-encoded (key order, white space,
// escapes) and fails if any value changes.
type Signed struct {
	Statement json.RawMessage `json:"statement"`
	Signature Signature       `json:"signature"`
}

// Signature names the algorithm and the public key, both base64.
type Signature struct {
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"`
	Value     string `json:"value"`
}

// Sign encodes statement as JSON and signs its canonical form with key.
func Sign(statement any, key ed25519.PrivateKey) ([]byte, error) {
	raw, err := json.Marshal(statement)
	if err != nil {
		return nil, fmt.Errorf("encoding the statement: %w", err)
	}
	canonical, err := jcs.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("canonicalizing the statement: %w", err)
	}
	signed := Signed{Statement: raw, Signature: Signature{
		Algorithm: Algorithm,
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
		Value:     base64.StdEncoding.EncodeToString(ed25519.Sign(key, canonical)),
	}}
	data, err := json.MarshalIndent(signed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the signed statement: %w", err)
	}
	return append(data, '\n'), nil
}

// Verify checks that data is a statement signed by trusted, the Region's
// public key as published out of band (its status, its /trust page), and
// returns the statement. A signature by the key data names itself proves
// nothing, so that key must be trusted.
func Verify(data []byte, trusted ed25519.PublicKey) (json.RawMessage, error) {
	if len(trusted) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("the trusted key must be %d bytes, not %d", ed25519.PublicKeySize, len(trusted))
	}
	var signed Signed
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&signed); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSigned, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the document", ErrNotSigned)
	}
	if len(signed.Statement) == 0 || signed.Signature.Value == "" {
		return nil, fmt.Errorf("%w: it needs a statement and a signature", ErrNotSigned)
	}
	if signed.Signature.Algorithm != Algorithm {
		return nil, fmt.Errorf("%w: algorithm %q, not %s", ErrNotSigned, signed.Signature.Algorithm, Algorithm)
	}
	named, err := base64.StdEncoding.DecodeString(signed.Signature.PublicKey)
	if err != nil || !bytes.Equal(named, trusted) {
		return nil, fmt.Errorf("%w: it names %q", ErrUntrustedKey, signed.Signature.PublicKey)
	}
	sig, err := base64.StdEncoding.DecodeString(signed.Signature.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: the signature is not base64", ErrBadSignature)
	}
	canonical, err := jcs.Transform(signed.Statement)
	if err != nil {
		return nil, fmt.Errorf("%w: the statement is not canonical JSON: %w", ErrNotSigned, err)
	}
	if !ed25519.Verify(trusted, canonical, sig) {
		return nil, ErrBadSignature
	}
	return signed.Statement, nil
}
