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

package keyring_test

import (
	"crypto/rand"
	"fmt"

	"github.com/rekomi/rekomi/app/keyring"
)

func Example() {
	ring, err := keyring.Generate(rand.Reader)
	if err != nil {
		panic(err)
	}
	aad := []byte("webhook_endpoint:0b8e3a52-6f0c-4d6e-9a43-3c1f0f2b7e51")
	ciphertext, err := ring.Encrypt([]byte("whsec_example"), aad)
	if err != nil {
		panic(err)
	}

	rotated, err := ring.Rotate(rand.Reader)
	if err != nil {
		panic(err)
	}
	secret, err := rotated.Marshal()
	if err != nil {
		panic(err)
	}
	mounted, err := keyring.Parse(secret)
	if err != nil {
		panic(err)
	}
	plaintext, err := mounted.Decrypt(ciphertext, aad)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(plaintext))
	// Output: whsec_example
}
