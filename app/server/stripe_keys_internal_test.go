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
	"testing"

	"github.com/google/uuid"

	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/payout"
)

// TestStripeProvidersAreBounded fills the cache past its bound: it keeps
// at most maxStripeProviders organizations, and an evicted organization's
// provider is built again, from its own key, at its next use.
func TestStripeProvidersAreBounded(t *testing.T) {
	ring, err := keyring.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	built := map[string]int{}
	p := &stripeProviders{build: func(key string) (StripeConnector, error) {
		built[key]++
		return payout.NewStripeConnect(payout.StripeOptions{SecretKey: key})
	}}
	seal := func(org uuid.UUID) []byte {
		sealed, err := ring.Encrypt([]byte("sk_test_"+org.String()[:8]), payout.StripeKeyAAD(org))
		if err != nil {
			t.Fatal(err)
		}
		return sealed
	}
	orgs := make([]uuid.UUID, maxStripeProviders+10)
	sealed := make([][]byte, len(orgs))
	for i := range orgs {
		orgs[i] = uuid.New()
		sealed[i] = seal(orgs[i])
		if _, err := p.get(orgs[i], sealed[i], ring); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.byOrg.Len(); n != maxStripeProviders {
		t.Fatalf("the cache holds %d organizations, want at most %d", n, maxStripeProviders)
	}
	for i, org := range orgs {
		if _, err := p.get(org, sealed[i], ring); err != nil {
			t.Fatal(err)
		}
	}
	rebuilt := 0
	for _, n := range built {
		if n > 1 {
			rebuilt++
		}
	}
	if rebuilt == 0 {
		t.Fatal("no evicted organization's provider was built again")
	}
	if _, err := p.get(orgs[0], sealed[1], ring); err == nil {
		t.Fatal("another organization's sealed key opened for orgs[0]")
	}
}
