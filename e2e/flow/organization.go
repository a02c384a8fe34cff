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

package flow

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Tenant is the organization a test adds, as kubectl shows it.
type Tenant struct {
	// Name names the Organization, its namespace, and from those the
	// Secret and WebhookEndpoint of its Stripe endpoint.
	Name string
	// ID is the organization's id, EndpointID its Stripe endpoint's.
	ID, EndpointID string
	// Region is the organization's Region, AppURL the public URL of the
	// Region's app (its spec.app.publicBaseURL).
	Region, AppURL string
	// App is how the test reaches the Region's app.
	App App
	// API calls the merchant API with the organization's admin API key.
	API Merchant
	// Stripe is its Stripe endpoint.
	Stripe StripeEndpoint
}

// organization is the Organization, its namespace, the Stripe signing
// Secret and the WebhookEndpoint AddOrganization applies, with {name},
// {display}, {region} and {secret} to replace.
const organization = `
apiVersion: rekomi.io/v1alpha1
kind: Organization
metadata:
  name: {name}
spec:
  displayName: {display}
  region: {region}
  plan: pro
---
apiVersion: v1
kind: Namespace
metadata:
  name: {name}
  labels:
    rekomi.io/organization: {name}
---
apiVersion: v1
kind: Secret
metadata:
  name: {name}-stripe-signing
  namespace: {name}
type: Opaque
stringData:
  current: {secret}
---
apiVersion: rekomi.io/v1alpha1
kind: WebhookEndpoint
metadata:
  name: {name}-stripe
  namespace: {name}
spec:
  organization: {name}
  provider: stripe
  secretRef:
    name: {name}-stripe-signing
  tolerance: 300s
`

// AddOrganization applies a new Organization called name in region, and
// in a namespace of the same name a Stripe WebhookEndpoint (name-stripe)
// with its signing Secret (name-stripe-signing), waits for both to be
// Ready, and reads the admin API key the operator delivers and the URLs
// it publishes. Requests reach the app through app.
func AddOrganization(t testing.TB, k Kubectl, app App, name, region string) Tenant {
	t.Helper()
	require.NotEmpty(t, name, "the organization needs a name")
	require.NotNil(t, app.Client, "no HTTP client to reach the app of region %s with", region)
	require.NotNil(t, app.Metric, "no way to read the metrics of the app of region %s", region)
	org := Tenant{Name: name, Region: region, App: app}
	secret := "whsec_" + randomHex(t, 16)
	out := k.Run(t, strings.NewReplacer("{name}", name, "{display}", strings.ToUpper(name[:1])+name[1:],
		"{region}", region, "{secret}", secret).Replace(organization), "apply", "-f", "-")
	require.Contains(t, out, "organization.rekomi.io/"+name+" created")
	require.Contains(t, out, "webhookendpoint.rekomi.io/"+name+"-stripe created")
	k.Run(t, "", "wait", "--for=condition=Ready", "organization/"+name, "--timeout=2m")
	k.Run(t, "", "-n", name, "wait", "--for=condition=Ready", "webhookendpoint/"+name+"-stripe", "--timeout=2m")

	org.ID = k.Get(t, "", "organization/"+name, ".status.id")
	require.Len(t, org.ID, 36, "the organization's id is a UUID")
	namespace := k.Get(t, "", "region/"+region, ".spec.namespace")
	key := k.SecretValue(t, namespace, name+"-admin-api-key", "api-key")
	require.True(t, strings.HasPrefix(key, "rk_live_"), "the admin API key has the rk_live_ prefix")
	org.AppURL = k.Get(t, "", "region/"+region, ".spec.app.publicBaseURL")
	org.API = Merchant{Base: org.AppURL, Key: key, Client: app.Client}
	status, _ := org.API.Call(t, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusNotFound, status, "the public port serves no metrics")

	org.EndpointID = k.Get(t, name, "webhookendpoint/"+name+"-stripe", ".status.endpointID")
	hookURL := k.Get(t, name, "webhookendpoint/"+name+"-stripe", ".status.url")
	require.Equal(t, org.AppURL+"/webhooks/stripe/"+org.EndpointID, hookURL)
	org.Stripe = StripeEndpoint{URL: hookURL, Secret: secret, Client: app.Client}
	return org
}

// randomHex is n random bytes in hexadecimal.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// UnbindAndBind removes the label that binds the organization's namespace
// to it: its endpoint must then answer a signed delivery with the same
// empty 401 as an unknown one, within seconds, and say why. Labelled
// again, the endpoint takes deliveries again at the same URL.
func UnbindAndBind(t testing.TB, k Kubectl, org Tenant) {
	t.Helper()
	event := func() []byte {
		return StripeEvent("evt_"+randomHex(t, 12), "customer.created", time.Now().Unix(),
			map[string]any{"id": "cus_" + randomHex(t, 8), "object": "customer"})
	}
	endpoint := "webhookendpoint/" + org.Name + "-stripe"
	k.Run(t, "", "label", "namespace", org.Name, "rekomi.io/organization-")
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, answer := org.Stripe.Post(t, event())
		if status == http.StatusUnauthorized {
			require.Empty(t, answer, "the refusal says nothing")
			break
		}
		require.Equal(t, http.StatusOK, status, "%s", answer)
		require.True(t, time.Now().Before(deadline), "the endpoint of an unbound namespace still takes deliveries after 30 s")
		time.Sleep(200 * time.Millisecond)
	}
	k.Run(t, "", "-n", org.Name, "wait", "--for=jsonpath={.status.conditions[?(@.type=='Ready')].reason}=NamespaceNotBound",
		endpoint, "--timeout=1m")

	k.Run(t, "", "label", "namespace", org.Name, "rekomi.io/organization="+org.Name)
	k.Run(t, "", "-n", org.Name, "wait", "--for=condition=Ready", endpoint, "--timeout=1m")
	require.Equal(t, org.Stripe.URL, k.Get(t, org.Name, endpoint, ".status.url"), "the same URL")
	org.Stripe.Deliver(t, event())
}
