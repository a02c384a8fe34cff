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

// ConditionType is the type of a condition in the status of a rekomi.io kind.
type ConditionType string

// Condition types. Every kind reports Ready, which is True only when every
// other condition of that kind is, except an Organization's StripeKeyReady.
const (
	// ConditionReady sums up the object: `kubectl wait --for=condition=Ready`.
	ConditionReady ConditionType = "Ready"

	// ConditionDatabaseReady (Region): the admin Secret was read, the server
	// answered and the region database exists.
	ConditionDatabaseReady ConditionType = "DatabaseReady"
	// ConditionRolesReady (Region): the owner and runtime roles exist with the
	// right attributes and passwords that match their Secrets.
	ConditionRolesReady ConditionType = "RolesReady"
	// ConditionSchemaReady (Region): the migrations are applied; the message
	// carries the schema version.
	ConditionSchemaReady ConditionType = "SchemaReady"
	// ConditionIsolationVerified (Region): the catalog shows forced row-level
	// security on every tenant table and a runtime role that cannot bypass it;
	// the message carries the number of tenant tables.
	ConditionIsolationVerified ConditionType = "IsolationVerified"
	// ConditionAppAvailable (Region): the app Deployment is applied as the
	// spec asks and has its minimum of available replicas.
	ConditionAppAvailable ConditionType = "AppAvailable"

	// ConditionPurged (Organization): a cancelled organization's tenant rows
	// have been deleted; its audit log is kept.
	ConditionPurged ConditionType = "Purged"
	// ConditionAuditWitnessed (Organization): the newest head of the audit
	// chain is recorded in status.audit, and the chain still holds every
	// head recorded before.
	ConditionAuditWitnessed ConditionType = "AuditWitnessed"
	// ConditionStripeKeyReady (Organization): the Stripe secret key named by
	// spec.stripe.secretKeyRef is stored, sealed, in the organization's row,
	// so its payouts can go out as Stripe Connect transfers from its own
	// account. False means Stripe payouts are off (manual payouts still
	// work); it does not make Ready False, since the organization is served
	// either way.
	ConditionStripeKeyReady ConditionType = "StripeKeyReady"

	// ConditionSecretValid (WebhookEndpoint): the referenced Secret exists and
	// every secret in it has the provider's format.
	ConditionSecretValid ConditionType = "SecretValid"
)

// ConditionReason is the machine-readable reason of a condition, also used as
// the reason of the event that reports it.
type ConditionReason string

// Condition reasons shared by the kinds.
const (
	// ReasonReconciled: the condition's subject is as the spec asks.
	ReasonReconciled ConditionReason = "Reconciled"
	// ReasonProgressing: work towards the spec is under way.
	ReasonProgressing ConditionReason = "Progressing"
	// ReasonDependencyNotReady: Ready is False because another condition is.
	ReasonDependencyNotReady ConditionReason = "DependencyNotReady"
)

// Region condition reasons.
const (
	// ReasonAdminSecretNotFound: the Secret or key named by
	// spec.database.adminSecretRef does not exist.
	ReasonAdminSecretNotFound ConditionReason = "AdminSecretNotFound"
	// ReasonAdminSecretNotAllowed: spec.database.adminSecretRef names a
	// namespace other than the Region's own and the operator's, so the
	// Secret is not read.
	ReasonAdminSecretNotAllowed ConditionReason = "AdminSecretNotAllowed"
	// ReasonAdminSecretInvalid: the admin Secret does not hold a usable
	// PostgreSQL connection URL.
	ReasonAdminSecretInvalid ConditionReason = "AdminSecretInvalid"
	// ReasonDatabaseUnreachable: the PostgreSQL server did not answer or
	// refused the admin credentials.
	ReasonDatabaseUnreachable ConditionReason = "DatabaseUnreachable"
	// ReasonMigrationFailed: a migration failed or the schema is dirty.
	ReasonMigrationFailed ConditionReason = "MigrationFailed"
	// ReasonIsolationViolated: the catalog check found a violation, such as a
	// tenant table without forced row-level security.
	ReasonIsolationViolated ConditionReason = "IsolationViolated"
)

// Organization condition reasons.
const (
	// ReasonRegionNotFound: spec.region names no Region.
	ReasonRegionNotFound ConditionReason = "RegionNotFound"
	// ReasonPlanNotAllowed: spec.plan is not in the Region's allowedPlans.
	ReasonPlanNotAllowed ConditionReason = "PlanNotAllowed"
	// ReasonPurged: the organization's tenant rows have been deleted (its
	// audit log is kept); it is not Ready and never will be again.
	ReasonPurged ConditionReason = "Purged"
	// ReasonAuditChainDiverged: the audit log no longer holds a head its
	// witness recorded: entries were changed, removed or rewritten with
	// their hashes after it was witnessed.
	ReasonAuditChainDiverged ConditionReason = "AuditChainDiverged"
	// ReasonAuditChainBroken: entries written since the newest witnessed
	// head do not form a valid chain from it, so no newer head is witnessed.
	ReasonAuditChainBroken ConditionReason = "AuditChainBroken"
	// ReasonAdminKeySecretNotOwned: a Secret of the admin key's name
	// (<organization>-admin-api-key in the Region's namespace) exists and is
	// not controlled by the Organization, so its content is neither used nor
	// overwritten and no admin key is issued until it is removed.
	ReasonAdminKeySecretNotOwned ConditionReason = "AdminKeySecretNotOwned"
	// ReasonStripeKeyNotConfigured (StripeKeyReady): spec.stripe is not set,
	// so the organization has no Stripe key and offers manual payouts only.
	ReasonStripeKeyNotConfigured ConditionReason = "StripeKeyNotConfigured"
	// ReasonStripeSecretNotFound (StripeKeyReady): the Secret or key named
	// by spec.stripe.secretKeyRef does not exist; no key is stored.
	ReasonStripeSecretNotFound ConditionReason = "StripeSecretNotFound"
	// ReasonStripeSecretInvalid (StripeKeyReady): the key named by
	// spec.stripe.secretKeyRef does not hold a Stripe secret key (sk_... or
	// rk_...); no key is stored.
	ReasonStripeSecretInvalid ConditionReason = "StripeSecretInvalid"
	// ReasonStripeSecretNamespaceNotBound (StripeKeyReady): the namespace of
	// spec.stripe.secretKeyRef does not carry the OrganizationLabel with
	// the organization's name, so the Secret is not read and no key is
	// stored.
	ReasonStripeSecretNamespaceNotBound ConditionReason = "StripeSecretNamespaceNotBound"
)

// WebhookEndpoint condition reasons.
const (
	// ReasonOrganizationNotFound: spec.organization names no Organization.
	ReasonOrganizationNotFound ConditionReason = "OrganizationNotFound"
	// ReasonSecretNotFound: the Secret named by spec.secretRef does not exist.
	ReasonSecretNotFound ConditionReason = "SecretNotFound"
	// ReasonSecretInvalid: the Secret is empty or holds a value that is not a
	// signing secret of the endpoint's provider.
	ReasonSecretInvalid ConditionReason = "SecretInvalid"
	// ReasonNamespaceNotBound: the endpoint's namespace does not carry the
	// OrganizationLabel with spec.organization as its value, so the endpoint
	// receives nothing (its route is removed).
	ReasonNamespaceNotBound ConditionReason = "NamespaceNotBound"
)
