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

package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/webhook"
)

// decoyTolerance is the decoy's timestamp tolerance, the endpoints' default.
const decoyTolerance = webhook.DefaultTolerance

// decoyEndpoint is an endpoint of no organization, with secrets nobody
// holds. A delivery to an endpoint id that names none is refused only once
// the decoy has been read and checked as a known endpoint is: the same
// tenant transaction and query (for an organization that does not exist,
// so it reads nothing), the same decryption and a signature check. An
// unknown endpoint then costs what a known one refused for its signature
// does, and the identical empty 401 does not come sooner for one of them.
type decoyEndpoint struct {
	org, id uuid.UUID
	// sealed holds, per provider, a secret of that provider's form, so
	// that checking a signature against it costs what it does against a
	// real endpoint's.
	sealed map[string][]byte
}

// newDecoyEndpoint seals fresh random secrets with ring. Without a ring no
// delivery is received at all, and the decoy is not needed.
func newDecoyEndpoint(ring *keyring.KeyRing) *decoyEndpoint {
	d := &decoyEndpoint{org: uuid.New(), id: uuid.New(), sealed: map[string][]byte{}}
	if ring == nil {
		return d
	}
	for _, provider := range webhook.Providers() {
		plain, err := json.Marshal([]string{decoySecret(provider)})
		if err == nil {
			d.sealed[provider], err = ring.Encrypt(plain, webhook.SecretsAAD(d.id))
		}
		if err != nil {
			panic(fmt.Sprintf("sealing the decoy endpoint's secrets: %v", err)) // a valid ring seals any bytes
		}
	}
	return d
}

// decoySecret is a random secret in the form provider's endpoints hold
// (see controllers/webhooksecret).
func decoySecret(provider string) string {
	random := func(alphabet string, n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b) // crypto/rand does not fail on a supported platform
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		return string(b)
	}
	const lower, alnum, hex = "abcdefghijklmnopqrstuvwxyz0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "0123456789abcdef"
	switch provider {
	case webhook.ProviderPaddle:
		return "pdl_ntfset_" + random(lower, 26) + "_" + random(alnum, 32)
	case webhook.ProviderShopify:
		return "shpss_" + random(hex, 32)
	case webhook.ProviderBraintree:
		return webhook.BraintreeSecret(random(lower, 16), random(hex, 32))
	case webhook.ProviderClerk:
		return "whsec_" + base64.StdEncoding.EncodeToString([]byte(random(alnum, 32)))
	}
	return "whsec_" + random(alnum, 32)
}

// receive reads and checks the decoy as receive does a known endpoint for
// the delivery r of provider, and drops the outcome: the caller refuses
// the delivery for its unknown endpoint whatever happens here.
func (d *decoyEndpoint) receive(r *http.Request, s *Server, provider string, body []byte) {
	ctx := r.Context()
	err := s.db.TenantTx(ctx, d.org, func(tx pgx.Tx) error {
		if _, err := s.readWebhookEndpoint(ctx, tx, d.org, d.id); err == nil {
			return errors.New("the decoy endpoint has a row")
		}
		ep := storedEndpoint{provider: provider, tolerance: decoyTolerance}
		if err := s.openSecrets(&ep, d.sealed[provider], d.id); err != nil {
			return err
		}
		if _, err := verifyDelivery(provider, d.id, ep, r.Header, body, time.Now()); err != nil {
			return err // rolls back, as a refusal does
		}
		return errors.New("a delivery verified against the decoy's secrets")
	})
	if err == nil {
		s.log.Error("The decoy endpoint's transaction committed")
	}
}
