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

package pgroles

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SCRAM-SHA-256 verifiers as PostgreSQL stores them in pg_authid.rolpassword
// (RFC 5802 and RFC 7677):
//
//	SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
const (
	scramPrefix     = "SCRAM-SHA-256$"
	scramIterations = 4096
	scramSaltLen    = 16
)

var errNotSCRAM = errors.New("not a SCRAM-SHA-256 verifier")

// newVerifier computes a verifier for password with a fresh random salt.
func newVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating a salt: %w", err)
	}
	storedKey, serverKey, err := scramKeys(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("%s%d:%s$%s:%s", scramPrefix, scramIterations, enc(salt), enc(storedKey), enc(serverKey)), nil
}

// scramKeys derives StoredKey and ServerKey from password.
func scramKeys(password string, salt []byte, iterations int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("deriving the salted password: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	sum := sha256.Sum256(clientKey)
	return sum[:], hmacSHA256(salted, "Server Key"), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// verifierMatches reports whether the stored verifier was computed from
// password, recomputing it with the stored salt and iteration count.
func verifierMatches(stored, password string) (bool, error) {
	salt, iterations, storedKey, serverKey, err := parseVerifier(stored)
	if err != nil {
		return false, err
	}
	wantStored, wantServer, err := scramKeys(password, salt, iterations)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(storedKey, wantStored)&subtle.ConstantTimeCompare(serverKey, wantServer) == 1, nil
}

// parseVerifier splits a verifier into its parts.
func parseVerifier(v string) (salt []byte, iterations int, storedKey, serverKey []byte, err error) {
	rest, ok := strings.CutPrefix(v, scramPrefix)
	if !ok {
		return nil, 0, nil, nil, errNotSCRAM
	}
	params, keys, ok := strings.Cut(rest, "$")
	iter, saltB64, ok1 := strings.Cut(params, ":")
	storedB64, serverB64, ok2 := strings.Cut(keys, ":")
	if !ok || !ok1 || !ok2 {
		return nil, 0, nil, nil, errNotSCRAM
	}
	iterations, err = strconv.Atoi(iter)
	if err != nil || iterations < 1 || iterations > 1<<24 {
		return nil, 0, nil, nil, errNotSCRAM
	}
	dec := base64.StdEncoding.DecodeString
	salt, err1 := dec(saltB64)
	storedKey, err2 := dec(storedB64)
	serverKey, err3 := dec(serverB64)
	if err1 != nil || err2 != nil || err3 != nil || len(salt) == 0 ||
		len(storedKey) != sha256.Size || len(serverKey) != sha256.Size {
		return nil, 0, nil, nil, errNotSCRAM
	}
	return salt, iterations, storedKey, serverKey, nil
}
