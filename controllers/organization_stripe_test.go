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

package controllers_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/payout"
	"github.com/rekomi/rekomi/controllers"
)

const (
	orgStripeKey     = "sk_test_51OrgA0000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	orgStripeRotated = "rk_live_51OrgA1111111111111111111111111111111111111111111111111111111111111111111111111111111111"
)

// stripeBundle is a provisioned Organization, the namespace bound to it and
// what the test reads back: its row and its Region's key ring.
type stripeBundle struct {
	f    *orgFixture
	org  *v1.Organization
	id   uuid.UUID
	ns   string
	conn *pgx.Conn
	ring *keyring.KeyRing
	logs *strings.Builder
	mu   sync.Mutex
}

func setupStripe(t *testing.T) *stripeBundle {
	t.Helper()
	f := newOrgFixture(t)
	org := f.provision(t, f.newOrg(t))
	ring, err := keyring.Parse(f.rf.secret(t, controllers.KeyRingSecretName(f.region.Name)).Data[keyring.SecretKey])
	require.NoError(t, err)
	return &stripeBundle{f: f, org: org, id: uuid.MustParse(org.Status.ID), ns: stripeNamespace(t, org.Name),
		conn: f.conn(t), ring: ring, logs: &strings.Builder{}}
}

// stripeNamespace creates a namespace bound to organization org ("" for
// none).
func stripeNamespace(t *testing.T, org string) string {
	t.Helper()
	ns := newNamespace(t)
	if org != "" {
		bindNamespace(t, ns, org)
	}
	return ns
}

// putSecret creates or replaces Secret stripe in namespace ns with key
// secret-key set to value.
func putSecret(t *testing.T, ns, value string) {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stripe"}}
	err := testEnv.client.Get(ctx, client.ObjectKeyFromObject(secret), secret)
	secret.Data = map[string][]byte{"secret-key": []byte(value)}
	if err == nil {
		require.NoError(t, testEnv.client.Update(ctx, secret))
		return
	}
	require.NoError(t, testEnv.client.Create(ctx, secret))
}

// point names Secret stripe of namespace ns as the organization's Stripe
// key, or none when ns is empty.
func (b *stripeBundle) point(t *testing.T, ns string) {
	t.Helper()
	b.f.update(t, b.org, func(o *v1.Organization) {
		o.Spec.Stripe = nil
		if ns != "" {
			o.Spec.Stripe = stripeRef(ns, "stripe", "")
		}
	})
}

// reconcile runs one pass, with the reconciler's logs kept, and returns
// the Organization.
func (b *stripeBundle) reconcile(t *testing.T) *v1.Organization {
	t.Helper()
	logger := funcr.New(func(prefix, args string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	ctx := log.IntoContext(context.Background(), logger)
	_, err := b.f.reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: b.org.Name}})
	if err != nil {
		b.mu.Lock()
		b.logs.WriteString(err.Error() + "\n")
		b.mu.Unlock()
	}
	require.NoError(t, err)
	got := &v1.Organization{}
	require.NoError(t, testEnv.client.Get(context.Background(), client.ObjectKeyFromObject(b.org), got))
	return got
}

// sealed is the organization's stored Stripe key, nil for none.
func (b *stripeBundle) sealed(t *testing.T) []byte {
	t.Helper()
	var sealed []byte
	queryRow(t, b.conn, `SELECT stripe_secret_key_sealed FROM organizations WHERE id = $1`, []any{b.id}, &sealed)
	return sealed
}

// stored opens the organization's stored Stripe key with the Region's key
// ring, as the app does.
func (b *stripeBundle) stored(t *testing.T) string {
	t.Helper()
	sealed := b.sealed(t)
	require.NotNil(t, sealed, "a stored key")
	plain, err := b.ring.Decrypt(sealed, payout.StripeKeyAAD(b.id))
	require.NoError(t, err)
	return string(plain)
}

// requireNowhere checks that none of the keys is in the Organization's
// status, its events, the reconciler's logs or its audit log.
func (b *stripeBundle) requireNowhere(t *testing.T, got *v1.Organization, events []string, keys ...string) {
	t.Helper()
	status, err := json.Marshal(got.Status)
	require.NoError(t, err)
	rows, err := b.conn.Query(context.Background(), `SELECT metadata::text FROM audit_log WHERE org_id = $1`, b.id)
	require.NoError(t, err)
	metadata, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	b.mu.Lock()
	logs := b.logs.String()
	b.mu.Unlock()
	for _, key := range keys {
		secretPart := key[len("sk_test_"):]
		for where, text := range map[string]string{"status": string(status), "events": strings.Join(events, "\n"),
			"logs": logs, "audit log": strings.Join(metadata, "\n")} {
			require.NotContains(t, text, secretPart, "the key in the %s", where)
		}
	}
}

func TestOrganizationStripeKey(t *testing.T) {
	t.Parallel()

	t.Run("NoKeyIsStillReadyWithStripePayoutsOff", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		got := b.reconcile(t)
		requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
		c := requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionFalse, v1.ReasonStripeKeyNotConfigured)
		require.Contains(t, c.Message, "Stripe Connect payouts are off")
		require.Nil(t, b.sealed(t))
		events := strings.Join(b.f.drainEvents(), "\n")
		require.Contains(t, events, "Normal StripeKeyNotConfigured", "a choice of the spec is told")
		require.NotContains(t, events, "Warning StripeKeyNotConfigured", "not warned about")
	})

	t.Run("SealsTheKeyOfABoundNamespaceAndReSealsOnlyAChange", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		putSecret(t, b.ns, orgStripeKey+"\n")
		b.point(t, b.ns)
		got := b.reconcile(t)
		c := requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionTrue, v1.ReasonReconciled)
		require.Contains(t, c.Message, "secret Stripe key (test mode)")
		requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
		require.Equal(t, orgStripeKey, b.stored(t))
		_, err := b.ring.Decrypt(b.sealed(t), payout.StripeKeyAAD(uuid.New()))
		require.Error(t, err, "the sealed key opens only as this organization's")
		var metadata string
		queryRow(t, b.conn, `SELECT metadata::text FROM audit_log WHERE org_id = $1 AND action = 'organization.stripe_key_set'`,
			[]any{b.id}, &metadata)
		require.JSONEq(t, `{"key_type":"secret","mode":"test","secret":"`+b.ns+`/stripe:secret-key"}`, metadata)

		first := b.sealed(t)
		b.reconcile(t)
		require.Equal(t, first, b.sealed(t), "an unchanged key is not sealed again")

		putSecret(t, b.ns, orgStripeRotated)
		got = b.reconcile(t)
		c = requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionTrue, v1.ReasonReconciled)
		require.Contains(t, c.Message, "restricted Stripe key (live mode)")
		require.Equal(t, orgStripeRotated, b.stored(t))

		b.point(t, "")
		got = b.reconcile(t)
		requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionFalse, v1.ReasonStripeKeyNotConfigured)
		requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
		require.Nil(t, b.sealed(t), "removing the reference removes the key")
		require.Equal(t, []string{"operator organization.created", "operator api_key.created", "operator organization.stripe_key_set",
			"operator organization.stripe_key_set", "operator organization.stripe_key_removed"}, auditActions(t, b.conn, b.id.String()))
		requireAuditChainOK(t, b.conn, b.id.String())
		b.requireNowhere(t, got, b.f.drainEvents(), orgStripeKey, orgStripeRotated)
	})

	t.Run("RefusesASecretInANamespaceNotBoundToTheOrganization", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		unbound := stripeNamespace(t, "")
		other := stripeNamespace(t, "another-org")
		for _, ns := range []string{unbound, other} {
			putSecret(t, ns, orgStripeKey)
			b.point(t, ns)
			got := b.reconcile(t)
			c := requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionFalse, v1.ReasonStripeSecretNamespaceNotBound)
			require.Contains(t, c.Message, "namespace "+ns)
			require.Nil(t, b.sealed(t), "nothing stored from %s", ns)
			requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
			b.requireNowhere(t, got, b.f.drainEvents(), orgStripeKey)
		}
		require.NotContains(t, auditActions(t, b.conn, b.id.String()), "operator organization.stripe_key_set")
	})

	t.Run("RemovesTheKeyWhenItsNamespaceLosesTheBinding", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		putSecret(t, b.ns, orgStripeKey)
		b.point(t, b.ns)
		b.reconcile(t)
		require.Equal(t, orgStripeKey, b.stored(t))

		bindNamespace(t, b.ns, "someone-else")
		got := b.reconcile(t)
		requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionFalse, v1.ReasonStripeSecretNamespaceNotBound)
		require.Nil(t, b.sealed(t))
		var metadata string
		queryRow(t, b.conn, `SELECT metadata::text FROM audit_log WHERE org_id = $1 AND action = 'organization.stripe_key_removed'`,
			[]any{b.id}, &metadata)
		require.JSONEq(t, `{"reason":"StripeSecretNamespaceNotBound"}`, metadata)
	})

	t.Run("RefusesAMissingOrMalformedKey", func(t *testing.T) {
		t.Parallel()
		b := setupStripe(t)
		b.point(t, b.ns)
		got := b.reconcile(t)
		requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionFalse, v1.ReasonStripeSecretNotFound)
		require.Nil(t, b.sealed(t))

		const publishable = "pk_test_51OrgAPublishable000000000000000000000000000000000000000000000000000000000000"
		putSecret(t, b.ns, publishable)
		got = b.reconcile(t)
		c := requireOrgCondition(t, got, v1.ConditionStripeKeyReady, metav1.ConditionFalse, v1.ReasonStripeSecretInvalid)
		require.Contains(t, c.Message, "is not a Stripe secret key")
		require.Nil(t, b.sealed(t))
		b.requireNowhere(t, got, b.f.drainEvents(), publishable)
	})
}
