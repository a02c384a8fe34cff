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
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// SecretKey is the data key of the key ring document in its Kubernetes Secret.
const SecretKey = "keyring.json"

// Document versions: 2 adds when keys were made ("created"); a ring that
// records no creation is still written as 1, which older binaries read.
const (
	documentVersion1 = 1
	documentVersion2 = 2
)

var keyEncoding = base64.StdEncoding.Strict()

// document is the JSON form of a ring. Parse reads it token by token so that
// it can reject duplicate members, which encoding/json would silently merge.
type document struct {
	Version int               `json:"version"`
	Primary string            `json:"primary"`
	Keys    map[string]string `json:"keys"`
	// Created maps key ids to when each was made, RFC 3339 in UTC; version
	// 2 only, and a key may be missing from it.
	Created map[string]string `json:"created,omitempty"`
}

// Marshal returns the ring as the JSON document stored under SecretKey.
func (r *KeyRing) Marshal() ([]byte, error) {
	if _, err := r.primaryKey(); err != nil {
		return nil, fmt.Errorf("marshalling key ring: %w", err)
	}
	doc := document{Version: documentVersion1, Primary: r.primary, Keys: make(map[string]string, len(r.keys))}
	for id, k := range r.keys {
		doc.Keys[id] = keyEncoding.EncodeToString(k.material)
		if !k.created.IsZero() {
			if doc.Created == nil {
				doc.Version, doc.Created = documentVersion2, map[string]string{}
			}
			doc.Created[id] = k.created.UTC().Format(time.RFC3339)
		}
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshalling key ring: %w", err)
	}
	return data, nil
}

// Parse reads a key ring document written by Marshal. Every failure wraps
// ErrInvalidKeyRing and says what is wrong without quoting key material.
func Parse(data []byte) (*KeyRing, error) {
	doc, err := decodeDocument(data)
	if err != nil {
		return nil, fmt.Errorf("parsing key ring: %w: %w", ErrInvalidKeyRing, err)
	}
	r, err := doc.ring()
	if err != nil {
		return nil, fmt.Errorf("parsing key ring: %w: %w", ErrInvalidKeyRing, err)
	}
	return r, nil
}

func decodeDocument(data []byte) (*document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var doc document
	var seen []string
	err := decodeObject(dec, "document", func(name string) error {
		seen = append(seen, name)
		switch name {
		case "version":
			return decodeValue(dec, &doc.Version, "version is not an integer")
		case "primary":
			return decodeValue(dec, &doc.Primary, "primary is not a string")
		case "keys":
			return decodeKeys(dec, &doc)
		case "created":
			return decodeCreated(dec, &doc)
		default:
			return fmt.Errorf("unknown field %s", describeID(name))
		}
	})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the document")
	}
	for _, name := range []string{"version", "primary", "keys"} {
		if !slices.Contains(seen, name) {
			return nil, fmt.Errorf("missing %s", name)
		}
	}
	return &doc, nil
}

func decodeCreated(dec *json.Decoder, doc *document) error {
	doc.Created = map[string]string{}
	return decodeObject(dec, "created", func(id string) error {
		var at string
		if err := decodeValue(dec, &at, "the creation of key "+describeID(id)+" is not a string"); err != nil {
			return err
		}
		doc.Created[id] = at
		return nil
	})
}

func decodeKeys(dec *json.Decoder, doc *document) error {
	doc.Keys = map[string]string{}
	return decodeObject(dec, "keys", func(id string) error {
		var encoded string
		if err := decodeValue(dec, &encoded, "key "+describeID(id)+" is not a string"); err != nil {
			return err
		}
		doc.Keys[id] = encoded
		return nil
	})
}

// decodeObject reads a JSON object from dec and calls member for each member
// name, with dec positioned at its value. A repeated name is an error.
func decodeObject(dec *json.Decoder, what string, member func(name string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err, what+" is not a JSON object")
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%s is not a JSON object", what)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err, "malformed "+what)
		}
		name, _ := tok.(string)
		if seen[name] {
			return fmt.Errorf("duplicate member %s in %s", describeID(name), what)
		}
		seen[name] = true
		if err := member(name); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntaxError(err, "malformed "+what)
	}
	return nil
}

// decodeValue decodes the next value into v. It reports a bad value with
// message, not with the decoder's error, which can quote the value.
func decodeValue(dec *json.Decoder, v any, message string) error {
	if err := dec.Decode(v); err != nil {
		return syntaxError(err, message)
	}
	return nil
}

// syntaxError reports a JSON syntax error by its offset and any other decoder
// error as message.
func syntaxError(err error, message string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON near byte %d", se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON")
	}
	return errors.New(message)
}

// ring validates the decoded document and builds the ring it describes.
func (doc *document) ring() (*KeyRing, error) {
	switch {
	case doc.Version != documentVersion1 && doc.Version != documentVersion2:
		return nil, fmt.Errorf("unsupported version %d", doc.Version)
	case doc.Version == documentVersion1 && doc.Created != nil:
		return nil, errors.New("created needs version 2")
	case doc.Version == documentVersion2 && doc.Created == nil:
		return nil, errors.New("version 2 needs created")
	}
	if doc.Primary == "" {
		return nil, errors.New("missing primary")
	}
	if !validKeyID(doc.Primary) {
		return nil, errors.New("primary is not a valid key id")
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	keys, err := decodeKeyMaterial(doc.Keys)
	if err != nil {
		return nil, err
	}
	if _, ok := keys[doc.Primary]; !ok {
		return nil, fmt.Errorf("primary %q is not among the keys", doc.Primary)
	}
	for id, at := range doc.Created {
		k, ok := keys[id]
		if !ok {
			return nil, fmt.Errorf("created names %s, which is not among the keys", describeID(id))
		}
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, fmt.Errorf("the creation of key %q is not an RFC 3339 time", id)
		}
		k.created = t.UTC()
	}
	return &KeyRing{primary: doc.Primary, keys: keys}, nil
}

func decodeKeyMaterial(encoded map[string]string) (map[string]*key, error) {
	keys := make(map[string]*key, len(encoded))
	owners := make(map[string]string, len(encoded))
	for id, enc := range encoded {
		if !validKeyID(id) {
			return nil, fmt.Errorf("a key id is not 1 to %d characters of a-z, 0-9, '_' or '-'", maxKeyIDLen)
		}
		material, err := keyEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("key %q is not valid base64", id)
		}
		if len(material) != KeySize {
			return nil, fmt.Errorf("key %q is %d bytes, not %d", id, len(material), KeySize)
		}
		if other, dup := owners[string(material)]; dup {
			return nil, fmt.Errorf("keys %q and %q are the same key", min(id, other), max(id, other))
		}
		owners[string(material)] = id
		if keys[id], err = newKey(material); err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
	}
	return keys, nil
}
