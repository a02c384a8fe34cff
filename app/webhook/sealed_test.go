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

package webhook_test

import (
	"crypto/rand"
	"testing"

	"github.com/google/uuid"

	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/webhook"
)

// TestSecretsAADBindsToTheEndpoint seals secrets for one endpoint: they open
// for it and not for another.
func TestSecretsAADBindsToTheEndpoint(t *testing.T) {
	ring, err := keyring.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a, b := uuid.New(), uuid.New()
	sealed, err := ring.Encrypt([]byte(`["whsec_x"]`), webhook.SecretsAAD(a))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Decrypt(sealed, webhook.SecretsAAD(a)); err != nil {
		t.Fatalf("the endpoint's own secrets do not open: %v", err)
	}
	if _, err := ring.Decrypt(sealed, webhook.SecretsAAD(b)); err == nil {
		t.Fatal("secrets sealed for one endpoint open for another")
	}
}
