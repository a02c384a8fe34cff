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

package controllers

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

func TestEndpointAction(t *testing.T) {
	t.Parallel()
	want := endpointRow{name: "ns/acme", provider: "stripe", secrets: []string{"a", "b"}, toleranceSeconds: 300}
	with := func(mutate func(*endpointRow)) *endpointRow {
		r := want
		mutate(&r)
		return &r
	}
	cases := map[string]struct {
		stored *endpointRow
		want   string
	}{
		"No row is a creation":                                 {nil, actionEndpointCreated},
		"A row as wanted is not written":                       {with(func(*endpointRow) {}), ""},
		"A new secret is a rotation":                           {with(func(r *endpointRow) { r.secrets = []string{"a"} }), actionEndpointSecretsRotated},
		"Secrets that do not decrypt are written again":        {with(func(r *endpointRow) { r.secrets = nil }), actionEndpointSecretsRotated},
		"A rotation with a new tolerance is still a rotation":  {with(func(r *endpointRow) { r.secrets, r.toleranceSeconds = nil, 60 }), actionEndpointSecretsRotated},
		"A new tolerance is an update":                         {with(func(r *endpointRow) { r.toleranceSeconds = 60 }), actionEndpointUpdated},
		"A disabled row is enabled again as an update":         {with(func(r *endpointRow) { r.disabled = true }), actionEndpointUpdated},
		"A renamed row is an update":                           {with(func(r *endpointRow) { r.name = "ns/old" }), actionEndpointUpdated},
		"A row of another provider is an update (never stays)": {with(func(r *endpointRow) { r.provider = "clerk" }), actionEndpointUpdated},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, endpointAction(tc.stored, want))
		})
	}
}

func TestWebhookURL(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0b7c4a52-8f0e-4c8e-9d47-3d2f1f3c6a10")
	cases := map[string]struct {
		base string
		want string
	}{
		"A bare host gets the path":          {"https://eu.example.com", "https://eu.example.com/webhooks/stripe/" + id.String()},
		"A trailing slash is not doubled":    {"https://eu.example.com/", "https://eu.example.com/webhooks/stripe/" + id.String()},
		"A base path is kept":                {"https://example.com/eu/", "https://example.com/eu/webhooks/stripe/" + id.String()},
		"Localhost over http keeps its port": {"http://localhost:8080", "http://localhost:8080/webhooks/stripe/" + id.String()},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, webhookURL(tc.base, rekomiv1.ProviderStripe, id))
		})
	}
}
