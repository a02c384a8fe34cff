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

// OrganizationSpec is the desired state of one tenant.
type OrganizationSpec struct {
	// displayName is the organization's human-readable name, shown in the admin
	// pages and in exports.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	DisplayName string `json:"displayName"`

	// region is the name of the Region whose database holds this
	// organization's data. It cannot be changed once set: moving an
	// organization between jurisdictions is an export and a new organization.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="region is immutable"
	Region string `json:"region"`

	// plan is the organization's subscription plan: trial, starter, pro or
	// enterprise. It must be one of its Region's `allowedPlans`; otherwise the
	// organization is not provisioned (or, once provisioned, keeps its data)
	// and reports `Ready=False` with reason `PlanNotAllowed`.
	// +required
	Plan Plan `json:"plan"`

	// cancelled starts the grace period of the Region's retention: the app turns
	// the organization read-only (export still works) and its tenant rows are
	// purged at `status.purgeAt`. Its audit log is kept.
	// +optional
	Cancelled bool `json:"cancelled,omitempty"`

	// payoutLimits bound what the organization's payouts may send out, so
	// that a stolen write key cannot empty the balance they are paid from.
	// +optional
	// +kubebuilder:default={}
	PayoutLimits PayoutLimits `json:"payoutLimits,omitempty"`

	// stripe connects the organization to its own Stripe account, from
	// which its affiliates are paid by Stripe Connect transfers. Without it
	// the organization is still served, with manual payouts only, and
	// `StripeKeyReady` is False with reason `StripeKeyNotConfigured`. No
	// Region-wide key pays for an organization.
	// +optional
	Stripe *OrganizationStripe `json:"stripe,omitempty"`
}

// OrganizationStripe is where an organization's Stripe secret key lives.
type OrganizationStripe struct {
	// secretKeyRef selects the Secret key that holds the organization's
	// Stripe secret key (`sk_...`, or a restricted `rk_...` key with write
	// access to transfers and read access to connected accounts). The
	// Secret must live in a namespace bound to this organization (labelled
	// `rekomi.io/organization=<organization name>`). The operator checks
	// the key's format and stores it, sealed with the Region's key ring, in
	// the organization's row, where only the app opens it; it reports
	// `StripeKeyReady`. A Secret that is missing, invalid or in a namespace
	// not bound to the organization stores nothing and removes a key stored
	// before.
	// +required
	SecretKeyRef OrganizationSecretKeyReference `json:"secretKeyRef"`
}

// OrganizationSecretKeyReference selects one key of a Secret in a namespace
// bound to the Organization.
type OrganizationSecretKeyReference struct {
	// namespace of the Secret: a namespace labelled
	// `rekomi.io/organization=<organization name>`.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="namespace must be a namespace name: lower-case letters, digits and '-', starting and ending with a letter or digit"
	Namespace string `json:"namespace"`

	// name of the Secret: a DNS subdomain (lower-case letters, digits, '-'
	// and '.').
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="name must be a Secret name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
	Name string `json:"name"`

	// key within the Secret's data: letters, digits, '-', '_' and '.'.
	// Defaults to `secret-key`.
	// +optional
	// +kubebuilder:default=secret-key
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// PayoutLimits are amounts in minor units of a payout's currency (cents for
// EUR and USD). The app refuses, with 422 `payout_limit_exceeded`, a payout
// over either.
// +kubebuilder:validation:XValidation:rule="!has(self.perDay) || !has(self.perPayout) || self.perDay >= self.perPayout",message="perDay must be at least perPayout"
type PayoutLimits struct {
	// perPayout is the most one payout may pay. Defaults to 1000000
	// (10,000.00).
	// +optional
	// +kubebuilder:default=1000000
	// +kubebuilder:validation:Minimum=1
	PerPayout int64 `json:"perPayout,omitempty"`

	// perDay is the most the organization's payouts in one currency may pay
	// over any 24 hours. Defaults to 2500000 (25,000.00).
	// +optional
	// +kubebuilder:default=2500000
	// +kubebuilder:validation:Minimum=1
	PerDay int64 `json:"perDay,omitempty"`
}

// OrganizationStatus is the observed state of an Organization.
type OrganizationStatus struct {
	// observedGeneration is the `metadata.generation` that the status reports on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are `Ready`, `AuditWitnessed`, `StripeKeyReady`, and
	// `Purged` once a cancelled organization's tenant rows have been
	// deleted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// id is the organization's id (a UUID) in its Region's database.
	// +optional
	ID string `json:"id,omitempty"`

	// purgeAt is when a cancelled organization's tenant rows will be deleted.
	// +optional
	PurgeAt *metav1.Time `json:"purgeAt,omitempty"`

	// audit is the witness of the organization's audit log: heads of its
	// hash chain recorded outside the database, signed with the operator's
	// witness key (Secret `rekomi-audit-witness` in the operator's
	// namespace), which the database never holds. `rekomi audit verify
	// --witness` checks a chain against it.
	// +optional
	Audit *AuditWitness `json:"audit,omitempty"`
}

// AuditWitness is a signed record of heads of one organization's audit
// chain.
type AuditWitness struct {
	// checkpoints are the witnessed heads, oldest first: the first one and
	// the newest.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Checkpoints []AuditCheckpoint `json:"checkpoints"`

	// keyID names the key that signed: the first 8 bytes of the SHA-256 of
	// its Ed25519 public key, in hex.
	KeyID string `json:"keyID"`

	// signature is the Ed25519 signature over the organization's id and the
	// checkpoints, in the canonical form `rekomi audit verify` checks.
	Signature []byte `json:"signature"`
}

// AuditCheckpoint is one witnessed head of an audit chain.
type AuditCheckpoint struct {
	// seq is the entry's sequence number.
	// +kubebuilder:validation:Minimum=1
	Seq int64 `json:"seq"`

	// hash is the entry's hash.
	Hash []byte `json:"hash"`

	// witnessedAt is when the head was recorded.
	WitnessedAt metav1.Time `json:"witnessedAt"`
}

// Organization is one tenant of a Region: a merchant whose campaigns,
// affiliates, clicks, commissions and payouts are isolated from every other
// organization's by row-level security.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=org,categories=rekomi
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 63",message="an Organization's name must be at most 63 characters (it is the value of the rekomi.io/organization label that binds its namespaces)"
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Plan",type=string,JSONPath=`.spec.plan`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.status.id`,priority=1
// +kubebuilder:printcolumn:name="Cancelled",type=boolean,JSONPath=`.spec.cancelled`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Organization struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the organization.
	// +required
	Spec OrganizationSpec `json:"spec"`

	// status is the observed state of the organization.
	// +optional
	Status OrganizationStatus `json:"status,omitzero"`
}

// OrganizationList is a list of Organizations.
//
// +kubebuilder:object:root=true
type OrganizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Organization `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Organization{}, &OrganizationList{})
}
