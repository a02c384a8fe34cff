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

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrganizationLabel binds a namespace to an Organization: only a namespace
// labelled `rekomi.io/organization: <organization name>` may hold that
// Organization's WebhookEndpoints (and its other tenant objects). Setting
// a namespace's labels takes the right to update namespaces, which
// platform administrators hold and namespace editors do not.
const OrganizationLabel = "rekomi.io/organization"

// Provider is the service that signs the webhooks an endpoint receives.
// +kubebuilder:validation:Enum=stripe;clerk;paddle;shopify;braintree
type Provider string

const (
	// ProviderStripe verifies Stripe's `Stripe-Signature` header.
	ProviderStripe Provider = "stripe"
	// ProviderClerk verifies Clerk's webhooks, signed by Svix (Standard Webhooks).
	ProviderClerk Provider = "clerk"
	// ProviderPaddle verifies Paddle Billing's `Paddle-Signature` header.
	ProviderPaddle Provider = "paddle"
	// ProviderShopify verifies Shopify's `X-Shopify-Hmac-Sha256` header.
	ProviderShopify Provider = "shopify"
	// ProviderBraintree verifies Braintree's `bt_signature` form field.
	ProviderBraintree Provider = "braintree"
)

// WebhookEndpointSpec is the desired state of one provider endpoint.
type WebhookEndpointSpec struct {
	// organization is the name of the Organization this endpoint delivers to.
	// The endpoint's namespace must be bound to it (labelled
	// `rekomi.io/organization: <organization>`). It cannot be changed once set.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="organization is immutable"
	Organization string `json:"organization"`

	// provider is the service that calls this endpoint: `stripe`, `clerk`,
	// `paddle`, `shopify` or `braintree`. It cannot be changed once set.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="provider is immutable"
	Provider Provider `json:"provider"`

	// secretRef names a Secret in this endpoint's namespace whose data holds the
	// endpoint's signing secrets, one per key. During a rotation it holds the
	// old and the new secret, and a signature made with either is accepted.
	// Each value is, for `stripe`, the endpoint's signing secret (`whsec_`
	// and at least 24 letters or digits); for `clerk`, its Svix signing
	// secret (`whsec_` and standard base64 of 24 to 64 bytes); for `paddle`,
	// the notification destination's secret key
	// (`pdl_ntfset_<26 lower-case letters or digits>_<24 to 64 letters or digits>`);
	// for `shopify`, the app's client secret as Shopify shows it (32 to 64
	// lower-case hex digits, with or without `shpss_` before them); for
	// `braintree`, the API key pair `<public key>:<private key>`, each 8 to
	// 64 lower-case letters or digits.
	// +required
	SecretRef LocalSecretReference `json:"secretRef"`

	// tolerance is how far a signed timestamp may be from the current time, in
	// either direction, before the delivery is refused as a replay. Defaults to
	// 300s; between 60s and 600s.
	// +optional
	// +kubebuilder:default="300s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('60s') && duration(self) <= duration('600s')",message="tolerance must be between 60s and 600s"
	Tolerance metav1.Duration `json:"tolerance,omitzero"`
}

// LocalSecretReference names a Secret in the referring object's namespace.
type LocalSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// WebhookEndpointStatus is the observed state of a WebhookEndpoint.
type WebhookEndpointStatus struct {
	// observedGeneration is the `metadata.generation` that the status reports on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are `SecretValid`, and `Ready` once the secrets are stored in
	// the region database and the URL is published.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// endpointID is the endpoint's id in its Region's database; it is the
	// last segment of `url`.
	// +optional
	EndpointID string `json:"endpointID,omitempty"`

	// url is where the provider must send its webhooks:
	// `<region publicBaseURL>/webhooks/<provider>/<id>`.
	// +optional
	URL string `json:"url,omitempty"`
}

// WebhookEndpoint is one signed webhook endpoint of an Organization, such as
// the URL a merchant pastes into Stripe's dashboard, with the secrets that
// verify its deliveries.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=whe,categories=rekomi
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Provider",type=string,JSONPath=`.spec.provider`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WebhookEndpoint struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the endpoint.
	// +required
	Spec WebhookEndpointSpec `json:"spec"`

	// status is the observed state of the endpoint.
	// +optional
	Status WebhookEndpointStatus `json:"status,omitzero"`
}

// WebhookEndpointList is a list of WebhookEndpoints.
//
// +kubebuilder:object:root=true
type WebhookEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WebhookEndpoint `json:"items"`
}

func init() {
	SchemeBuilder.Register(&WebhookEndpoint{}, &WebhookEndpointList{})
}
