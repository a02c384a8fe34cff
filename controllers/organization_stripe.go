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
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/payout"
)

// Audit actions of an organization's Stripe key.
const (
	actionStripeKeySet     = "organization.stripe_key_set"
	actionStripeKeyRemoved = "organization.stripe_key_removed"
)

// stripeResync is how often an organization that names a Stripe Secret
// reads it again: a Secret without the rekomi.io/watch label is not
// watched.
const stripeResync = 5 * time.Minute

// stripeKeyField names the spec field in condition messages.
const stripeKeyField = "spec.stripe.secretKeyRef"

// stripeFinding is what an Organization's spec.stripe comes to: the key to
// store ("" stores none), where it came from, and StripeKeyReady's reason
// and message, which never quote the key.
type stripeFinding struct {
	key     string
	source  string // namespace/name:key of the Secret, when key is set
	ready   bool
	reason  rekomiv1.ConditionReason
	message string
}

// findStripeKey reads the Secret named by spec.stripe.secretKeyRef, but only
// in a namespace bound to the organization, and checks that it holds a
// Stripe secret key. err is set only for API failures.
func (r *OrganizationReconciler) findStripeKey(ctx context.Context, org *rekomiv1.Organization) (stripeFinding, error) {
	if org.Spec.Stripe == nil {
		return stripeFinding{reason: rekomiv1.ReasonStripeKeyNotConfigured,
			message: "spec.stripe names no Stripe secret key: Stripe Connect payouts are off; manual payouts work"}, nil
	}
	ref := org.Spec.Stripe.SecretKeyRef
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, types.NamespacedName{Name: ref.Namespace}, ns); err != nil && !apierrors.IsNotFound(err) {
		return stripeFinding{}, fmt.Errorf("reading namespace %s: %w", ref.Namespace, err)
	}
	if message, unbound := notBound(ref.Namespace, ns.Labels, org.Name); unbound {
		return stripeFinding{reason: rekomiv1.ReasonStripeSecretNamespaceNotBound,
			message: fmt.Sprintf("%s: %s; the Secret is not read and no Stripe key is stored", stripeKeyField, message)}, nil
	}
	name := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, name, secret); apierrors.IsNotFound(err) {
		secret = nil
	} else if err != nil {
		return stripeFinding{}, fmt.Errorf("reading Stripe Secret %s of organization %s: %w", name, org.Name, err)
	}
	return checkStripeSecret(name, ref.Key, secret), nil
}

// checkStripeSecret says whether field of the Secret at name (nil when it
// does not exist) holds a Stripe secret key, in a finding whose message
// never quotes the value.
func checkStripeSecret(name types.NamespacedName, field string, secret *corev1.Secret) stripeFinding {
	if secret == nil {
		return stripeFinding{reason: rekomiv1.ReasonStripeSecretNotFound,
			message: fmt.Sprintf("%s: Secret %s does not exist; no Stripe key is stored", stripeKeyField, name)}
	}
	value, found := secret.Data[field]
	if !found {
		return stripeFinding{reason: rekomiv1.ReasonStripeSecretNotFound,
			message: fmt.Sprintf("%s: Secret %s has no key %q; no Stripe key is stored", stripeKeyField, name, field)}
	}
	key, err := payout.ParseStripeSecretKey(value)
	if err != nil {
		return stripeFinding{reason: rekomiv1.ReasonStripeSecretInvalid,
			message: fmt.Sprintf("%s: key %q of Secret %s is not a Stripe secret key (sk_... or rk_...); no Stripe key is stored",
				stripeKeyField, field, name)}
	}
	kind, mode := payout.StripeKeyKind(key)
	return stripeFinding{key: key, source: fmt.Sprintf("%s:%s", name, field), ready: true, reason: rekomiv1.ReasonReconciled,
		message: fmt.Sprintf("the %s Stripe key (%s mode) of Secret %s, key %q, is stored sealed in the organization's row: "+
			"its payouts go out from its own Stripe account", kind, mode, name, field)}
}

// stripeKeyAction is the audit action of bringing the row's key to want
// ("" for none), or "" when there is nothing to write. sealed says whether
// the row holds a key; stored is that key opened, "" when it does not open.
func stripeKeyAction(stored string, sealed bool, want string) string {
	switch {
	case want == "" && !sealed:
		return ""
	case want == "":
		return actionStripeKeyRemoved
	case sealed && stored == want:
		return ""
	}
	return actionStripeKeySet
}

// syncStripeKey stores the key the organization's spec leads to (none for a
// purged organization) and reports StripeKeyReady. It returns how soon to
// look again, 0 for never.
func (r *OrganizationReconciler) syncStripeKey(ctx context.Context, org *rekomiv1.Organization, region *rekomiv1.Region, pool *db.DB,
	id uuid.UUID, purged bool, conds *conditionSet) (time.Duration, error) {
	finding, err := r.findStripeKey(ctx, org)
	if err != nil {
		return 0, err
	}
	if purged {
		finding = stripeFinding{reason: rekomiv1.ReasonPurged, message: "the organization is purged: no Stripe key is stored"}
	}
	var ring *keyring.KeyRing
	if finding.key != "" {
		var wait string
		if ring, wait, err = r.keyRing(ctx, region); err != nil {
			return 0, err
		}
		if ring == nil {
			conds.set(rekomiv1.ConditionStripeKeyReady, false, rekomiv1.ReasonDependencyNotReady, wait)
			return dependencyRetry, nil
		}
	}
	if err := storeStripeKey(ctx, pool, ring, id, finding); err != nil {
		return 0, err
	}
	conds.set(rekomiv1.ConditionStripeKeyReady, finding.ready, finding.reason, finding.message)
	if org.Spec.Stripe == nil || purged {
		return 0, nil
	}
	return stripeResync, nil
}

// keyRing reads the Region's key ring; nil and a message when it cannot be
// used yet.
func (r *OrganizationReconciler) keyRing(ctx context.Context, region *rekomiv1.Region) (*keyring.KeyRing, string, error) {
	name := types.NamespacedName{Namespace: region.Spec.Namespace, Name: KeyRingSecretName(region.Name)}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, name, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("key ring Secret %s of Region %s does not exist", name, region.Name), nil
		}
		return nil, "", fmt.Errorf("reading key ring Secret %s: %w", name, err)
	}
	// Parse's errors never quote key material.
	ring, err := keyring.Parse(secret.Data[keyring.SecretKey])
	if err != nil {
		return nil, fmt.Sprintf("key ring Secret %s: %s", name, oneLine(err)), nil
	}
	return ring, "", nil
}

const lockStripeKeySQL = `SELECT stripe_secret_key_sealed FROM organizations WHERE id = $1 FOR UPDATE`

const writeStripeKeySQL = `UPDATE organizations SET stripe_secret_key_sealed = $2, updated_at = now() WHERE id = $1`

// storeStripeKey brings the organization's sealed Stripe key to
// finding.key, with its audit entry, in one transaction. Sealing makes new
// bytes every time, so the stored key is opened and compared first: a key
// that is as wanted is not written again.
func storeStripeKey(ctx context.Context, pool *db.DB, ring *keyring.KeyRing, id uuid.UUID, finding stripeFinding) error {
	err := pool.TenantTx(ctx, id, func(tx pgx.Tx) error {
		var sealed []byte
		if err := tx.QueryRow(ctx, lockStripeKeySQL, id).Scan(&sealed); err != nil {
			return fmt.Errorf("reading the organization's Stripe key: %w", db.MapError(err))
		}
		stored := ""
		if sealed != nil && ring != nil {
			if plain, err := ring.Decrypt(sealed, payout.StripeKeyAAD(id)); err == nil {
				stored = string(plain)
			}
		}
		action := stripeKeyAction(stored, sealed != nil, finding.key)
		if action == "" {
			return nil
		}
		var next []byte
		if finding.key != "" {
			var err error
			if next, err = ring.Encrypt([]byte(finding.key), payout.StripeKeyAAD(id)); err != nil {
				return fmt.Errorf("sealing the organization's Stripe key: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, writeStripeKeySQL, id, next); err != nil {
			return fmt.Errorf("writing the organization's Stripe key: %w", db.MapError(err))
		}
		_, err := audit.Append(ctx, tx, id, operatorEntry(action, "organization", id.String(), stripeKeyMetadata(action, finding)))
		return err
	})
	if err != nil {
		return fmt.Errorf("storing the Stripe key of organization %s: %w", id, err)
	}
	return nil
}

// stripeKeyMetadata details a Stripe key's audit entry: whether it is a
// secret or restricted key, its mode and the Secret it came from, or why it
// was removed; never any part of the key itself.
func stripeKeyMetadata(action string, finding stripeFinding) map[string]any {
	if action == actionStripeKeyRemoved {
		return map[string]any{"reason": string(finding.reason)}
	}
	kind, mode := payout.StripeKeyKind(finding.key)
	return map[string]any{"key_type": kind, "mode": mode, "secret": finding.source}
}

// Field indexes of the manager's Organization cache: the Secret
// (namespace/name) and the namespace that spec.stripe names, so that a
// Secret's or a namespace's event finds its organizations without listing
// them all (the operator writes one admin key Secret per organization).
const (
	stripeSecretIndex    = "spec.stripe.secretKeyRef"
	stripeNamespaceIndex = "spec.stripe.secretKeyRef.namespace"
)

// indexStripeSecrets registers the two indexes.
func indexStripeSecrets(ctx context.Context, indexer client.FieldIndexer) error {
	ref := func(obj client.Object) *rekomiv1.OrganizationSecretKeyReference {
		if org, ok := obj.(*rekomiv1.Organization); ok && org.Spec.Stripe != nil {
			return &org.Spec.Stripe.SecretKeyRef
		}
		return nil
	}
	if err := indexer.IndexField(ctx, &rekomiv1.Organization{}, stripeSecretIndex, func(obj client.Object) []string {
		if r := ref(obj); r != nil {
			return []string{r.Namespace + "/" + r.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing organizations by Stripe Secret: %w", err)
	}
	if err := indexer.IndexField(ctx, &rekomiv1.Organization{}, stripeNamespaceIndex, func(obj client.Object) []string {
		if r := ref(obj); r != nil {
			return []string{r.Namespace}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing organizations by Stripe Secret namespace: %w", err)
	}
	return nil
}

// organizationsForStripeSecret maps a Secret to the Organizations whose
// spec.stripe names it.
func (r *OrganizationReconciler) organizationsForStripeSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.organizationsIndexed(ctx, stripeSecretIndex, obj.GetNamespace()+"/"+obj.GetName())
}

// organizationsForNamespace maps a namespace to the Organizations whose
// Stripe Secret it holds, so that a change of its binding is acted on at
// once.
func (r *OrganizationReconciler) organizationsForNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.organizationsIndexed(ctx, stripeNamespaceIndex, obj.GetName())
}

func (r *OrganizationReconciler) organizationsIndexed(ctx context.Context, index, value string) []reconcile.Request {
	var orgs rekomiv1.OrganizationList
	if err := r.Client.List(ctx, &orgs, client.MatchingFields{index: value}); err != nil {
		log.FromContext(ctx).Error(err, "Listing organizations", "index", index)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(orgs.Items))
	for i := range orgs.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: orgs.Items[i].Name}})
	}
	return reqs
}
