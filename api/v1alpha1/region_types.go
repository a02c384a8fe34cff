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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OperatorNamespaceLabel, set to "true", marks the namespace the operator
// runs in: besides a Region's own namespace, the only one where a Region's
// admin Secret may live. config/manager sets it, and the admission policy of
// config/admission reads the operator's namespace by it. Only whoever may
// update namespaces can set it.
const OperatorNamespaceLabel = "rekomi.io/operator"

// WatchLabel, set to "true" on a Secret, lets the operator watch it: only
// Secrets carrying it are held in the operator's cache, and a change to one
// is acted on at once. The Secrets the operator writes carry it. A Secret a
// spec names (a Region's admin Secret, an Organization's Stripe Secret, a
// WebhookEndpoint's signing Secret) is read from the API server by name whether it carries the label
// or not; without it, a change is taken up at the next resync.
const WatchLabel = "rekomi.io/watch"

// Location is the data-residency jurisdiction of a Region.
// +kubebuilder:validation:Enum=us;eu
type Location string

const (
	// LocationUS keeps data in the United States.
	LocationUS Location = "us"
	// LocationEU keeps data in the European Union; personal data such as click
	// IP addresses is stored truncated.
	LocationEU Location = "eu"
)

// Plan is the subscription plan of an Organization.
// +kubebuilder:validation:Enum=trial;starter;pro;enterprise
type Plan string

const (
	// PlanTrial is a time-limited evaluation.
	PlanTrial Plan = "trial"
	// PlanStarter is the entry plan.
	PlanStarter Plan = "starter"
	// PlanPro is the professional plan.
	PlanPro Plan = "pro"
	// PlanEnterprise is the enterprise plan.
	PlanEnterprise Plan = "enterprise"
)

// RegionSpec is the desired state of one data-region install.
type RegionSpec struct {
	// location is the data-residency jurisdiction of this region, `us` or `eu`.
	// It decides how personal data is stored (in `eu`, click IP addresses are
	// truncated). It cannot be changed once set.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="location is immutable"
	Location Location `json:"location"`

	// namespace is where this region's app, its Secrets and its Service live.
	// It is created when absent. It must be a DNS label (lower-case letters,
	// digits and '-', at most 63 characters), not one of the cluster's own
	// (`default`, `kube-system`, `kube-public`, `kube-node-lease`), and cannot
	// be changed once set.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="namespace must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
	// +kubebuilder:validation:XValidation:rule="!(self in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])",message="namespace must be one of the region's own, not default, kube-system, kube-public or kube-node-lease"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="namespace is immutable"
	Namespace string `json:"namespace"`

	// database says which PostgreSQL server holds this region's data and which
	// database and roles the operator provisions there.
	// +required
	Database RegionDatabase `json:"database"`

	// placement constrains the nodes that run this region's app pods, for
	// example to nodes in the region's own jurisdiction.
	// +optional
	Placement *Placement `json:"placement,omitempty"`

	// app configures the application Deployment of this region.
	// +required
	App RegionApp `json:"app"`

	// allowedPlans lists the plans whose organizations may live in this region.
	// An Organization on another plan is not provisioned and reports
	// `Ready=False` with reason `PlanNotAllowed`. Defaults to every plan.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:default={trial,starter,pro,enterprise}
	AllowedPlans []Plan `json:"allowedPlans,omitempty"`

	// retention says how long a cancelled organization's data is kept before it
	// is purged.
	// +optional
	// +kubebuilder:default={}
	Retention Retention `json:"retention,omitzero"`
}

// RegionDatabase names the PostgreSQL server, database and roles of a Region.
// +kubebuilder:validation:XValidation:rule="self.ownerRole != self.runtimeRole",message="ownerRole and runtimeRole must differ"
type RegionDatabase struct {
	// adminSecretRef selects the Secret key that holds the admin connection URL
	// (`postgres://user:password@host:port/dbname?sslmode=verify-full`) of the
	// PostgreSQL server. The role in it must be a superuser or have CREATEROLE
	// and CREATEDB. Only the operator reads it; the app never sees it. The
	// Secret must be in the Region's own namespace or in the operator's:
	// elsewhere it is refused at admission (config/admission) and, should it
	// get past, not read (`DatabaseReady=False` with reason
	// `AdminSecretNotAllowed`).
	// +required
	AdminSecretRef SecretKeyReference `json:"adminSecretRef"`

	// name is the database the operator creates for this region. Defaults to
	// `rekomi`; cannot be changed once set.
	// +optional
	// +kubebuilder:default=rekomi
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="database name is immutable"
	Name string `json:"name,omitempty"`

	// ownerRole is the role that owns the schema and applies migrations
	// (NOSUPERUSER NOBYPASSRLS). Defaults to `rekomi`; cannot be changed once set.
	// +optional
	// +kubebuilder:default=rekomi
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('pg_')",message="role names starting with pg_ are reserved by PostgreSQL"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ownerRole is immutable"
	OwnerRole string `json:"ownerRole,omitempty"`

	// runtimeRole is the role the app connects as. It owns nothing, cannot
	// bypass row-level security and is granted DML table by table. Defaults to
	// `rekomi_app`; cannot be changed once set.
	// +optional
	// +kubebuilder:default=rekomi_app
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('pg_')",message="role names starting with pg_ are reserved by PostgreSQL"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="runtimeRole is immutable"
	RuntimeRole string `json:"runtimeRole,omitempty"`
}

// SecretKeyReference selects one key of a Secret in a given namespace.
type SecretKeyReference struct {
	// namespace of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data. Defaults to `url`.
	// +optional
	// +kubebuilder:default=url
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// Placement constrains the nodes that run a Region's app pods.
type Placement struct {
	// nodeSelector is added to the app pods' node selector.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations are added to the app pods.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity is the app pods' scheduling affinity.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// topologySpreadConstraints spread the app pods across zones or nodes.
	// +optional
	// +listType=atomic
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
}

// RegionApp configures the application Deployment of a Region.
type RegionApp struct {
	// image is the container image of the app. Defaults to the operator's own
	// image, since one image serves both.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// replicas is the number of app pods. Defaults to 2.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// resources are the app container's compute resources.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// publicBaseURL is the URL at which browsers and providers reach this
	// region's app, such as `https://eu.affiliates.example.com`. Webhook and
	// referral URLs are built from it. It must use https; http is accepted only
	// for localhost.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getHostname() != ''",message="publicBaseURL must be an absolute URL with a host"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['localhost', '127.0.0.1', '::1'])",message="publicBaseURL must use https (http is accepted only for localhost)"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="publicBaseURL must not carry a query or a fragment"
	PublicBaseURL string `json:"publicBaseURL"`

	// trustedProxies are the networks of the proxies in front of the app
	// (an ingress controller's or load balancer's addresses), as CIDRs such
	// as `10.0.0.0/8` or `2001:db8::/32`. From a peer in them, and only
	// then, the app takes the client's address from `X-Forwarded-For` (the
	// rightmost address outside them) for the audit log, clicks and the
	// admin sign-in limit, and believes its `X-Forwarded-Proto: https`:
	// the visitor cookie `rk_vid` is then Secure and answers carry
	// Strict-Transport-Security. Empty trusts none: the client is the
	// connection's peer, and behind a proxy every client is the proxy.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	TrustedProxies []CIDR `json:"trustedProxies,omitempty"`

	// securityContact is where the region's `/trust` page tells people to
	// report a vulnerability: a `mailto:` address or an `https` URL. Empty,
	// the page says that the region names none.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches(r'^mailto:[^@\\s\\p{Cc}]+@[^@\\s\\p{Cc}]+$') || (isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != '')",message="securityContact must be a mailto: address or an https URL"
	SecurityContact string `json:"securityContact,omitempty"`
}

// CIDR is an IPv4 or IPv6 network in CIDR notation, written with its
// network address (`10.0.0.0/8`, not `10.1.2.3/8`); a single address is
// `/32` or `/128`. The whole address space (`/0`) is refused: trusting
// every peer would let anyone forge client addresses.
// +kubebuilder:validation:MaxLength=49
// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="must be a network in CIDR notation, such as 10.0.0.0/8"
// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || string(cidr(self).masked()) == self",message="must be written in canonical form with its network address, such as 10.0.0.0/8 (not 10.1.2.3/8) or 2001:db8::/32"
// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).prefixLength() > 0",message="must not be the whole address space: trusting every peer lets anyone forge client addresses"
type CIDR string

// Retention says how long a cancelled organization's data is kept.
type Retention struct {
	// gracePeriod is the time between an organization's cancellation and the
	// purge of its tenant rows (its audit log is kept). Defaults to 720h
	// (30 days); at least 1h.
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="gracePeriod must be at least 1h"
	GracePeriod metav1.Duration `json:"gracePeriod,omitzero"`
}

// RegionStatus is the observed state of a Region.
type RegionStatus struct {
	// observedGeneration is the `metadata.generation` that the status reports on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are `DatabaseReady`, `RolesReady`, `SchemaReady`,
	// `IsolationVerified`, `AppAvailable`, and `Ready`, which is True when all
	// the others are.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// schemaVersion is the migration version applied to the region database.
	// +optional
	SchemaVersion int64 `json:"schemaVersion,omitempty"`

	// tenantTables is the number of tenant tables found in the catalog when
	// isolation was last verified.
	// +optional
	TenantTables int32 `json:"tenantTables,omitempty"`

	// trustPublicKey is the base64 Ed25519 public key with which the
	// region's app signs its `/trust.json`: archive a statement, then check
	// it with `rekomi trust verify --public-key KEY FILE`. It changes only
	// when the `<region>-trust-key` Secret is deleted, which a Warning event
	// `TrustKeyReplaced` records with both keys.
	// +optional
	TrustPublicKey string `json:"trustPublicKey,omitempty"`
}

// Region is one data-region install: a PostgreSQL database with its roles and
// schema, and the app Deployment that serves the region's organizations.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=rgn,categories=rekomi
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 59 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="a Region's name must be at most 59 lower-case letters, digits and '-', starting with a letter (it names the app's Service, <name>-app)"
// +kubebuilder:printcolumn:name="Location",type=string,JSONPath=`.spec.location`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Schema",type=integer,JSONPath=`.status.schemaVersion`
// +kubebuilder:printcolumn:name="Tenant Tables",type=integer,JSONPath=`.status.tenantTables`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Region struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the region.
	// +required
	Spec RegionSpec `json:"spec"`

	// status is the observed state of the region.
	// +optional
	Status RegionStatus `json:"status,omitzero"`
}

// RegionList is a list of Regions.
//
// +kubebuilder:object:root=true
type RegionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Region `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Region{}, &RegionList{})
}
