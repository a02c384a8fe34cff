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
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/app/webhook"
	"github.com/rekomi/rekomi/controllers"
)

const (
	stripeSecret    = "whsec_4eC39HqLyjWDarjtT1zdp7dc0123"
	stripeSecretNew = "whsec_Zz9fJ3kL0pQ7rT2vX8bN4mC6"
	// The test secret published by the Standard Webhooks specification.
	svixTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

// endpointFixture is a provisioned Region with one Ready Organization
// (seeded as the Organization controller would leave it), a namespace for
// endpoints and a reconciler that records events.
type endpointFixture struct {
	region     *v1.Region
	regionFix  *regionFixture
	org        *v1.Organization
	orgID      uuid.UUID
	ns         string
	reconciler *controllers.WebhookEndpointReconciler
	recorder   *events.FakeRecorder
}

// newEndpointReconciler is a reconciler and a namespace, with no Region.
func newEndpointReconciler(t *testing.T) *endpointFixture {
	t.Helper()
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	recorder := events.NewFakeRecorder(100)
	return &endpointFixture{
		ns:       newNamespace(t),
		recorder: recorder,
		reconciler: &controllers.WebhookEndpointReconciler{
			Client:       testEnv.client,
			Recorder:     recorder,
			DBs:          dbs,
			ResyncPeriod: time.Minute,
		},
	}
}

func newEndpointFixture(t *testing.T) *endpointFixture {
	t.Helper()
	rf := newRegionFixture(t, testEnv.adminURL)
	region := rf.provision(t)
	// Registered after the Region's cleanup, so the pools close before its
	// database is dropped.
	f := newEndpointReconciler(t)
	f.region, f.regionFix = region, rf
	f.org, f.orgID = seedOrganization(t, region)
	bindNamespace(t, f.ns, f.org.Name)
	return f
}

// bindNamespace labels namespace ns as holding org's endpoints, or removes
// the label when org is empty.
func bindNamespace(t *testing.T, ns, org string) {
	t.Helper()
	ctx := context.Background()
	obj := &corev1.Namespace{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKey{Name: ns}, obj))
	before := obj.DeepCopy()
	if org == "" {
		delete(obj.Labels, v1.OrganizationLabel)
	} else {
		if obj.Labels == nil {
			obj.Labels = map[string]string{}
		}
		obj.Labels[v1.OrganizationLabel] = org
	}
	require.NoError(t, testEnv.client.Patch(ctx, obj, client.MergeFrom(before)))
}

// seedOrganization creates a Ready Organization in region, with its row.
func seedOrganization(t *testing.T, region *v1.Region) (*v1.Organization, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	org := &v1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "org")},
		Spec:       v1.OrganizationSpec{DisplayName: "Acme GmbH", Region: region.Name, Plan: v1.PlanPro},
	}
	require.NoError(t, testEnv.client.Create(ctx, org))
	id := uuid.New()
	org.Status.ID = id.String()
	org.Status.Conditions = []metav1.Condition{{
		Type: string(v1.ConditionReady), Status: metav1.ConditionTrue, Reason: string(v1.ReasonReconciled),
		Message: "seeded by the test", ObservedGeneration: org.Generation, LastTransitionTime: metav1.Now(),
	}}
	require.NoError(t, testEnv.client.Status().Update(ctx, org))
	conn := superConn(t, region.Spec.Database.Name)
	_, err := conn.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $3, $4)`,
		id, org.Name, org.Spec.DisplayName, string(org.Spec.Plan))
	require.NoError(t, err)
	return org, id
}

// superConn connects to database as the test server's superuser, which
// bypasses row-level security.
func superConn(t *testing.T, database string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.WithDatabase(t, testEnv.adminURL, database))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// createEndpoint creates a Secret with data (none when data is nil) and an
// endpoint of f's organization that references it.
func (f *endpointFixture) createEndpoint(t *testing.T, provider v1.Provider, data map[string]string) *v1.WebhookEndpoint {
	t.Helper()
	ctx := context.Background()
	orgName := "no-such-organization"
	if f.org != nil {
		orgName = f.org.Name
	}
	ep := &v1.WebhookEndpoint{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "acme-" + string(provider)},
		Spec: v1.WebhookEndpointSpec{
			Organization: orgName,
			Provider:     provider,
			SecretRef:    v1.LocalSecretReference{Name: "acme-" + string(provider) + "-signing"},
			Tolerance:    metav1.Duration{Duration: 120 * time.Second},
		},
	}
	if data != nil {
		f.setSecret(t, ep, data)
	}
	require.NoError(t, testEnv.client.Create(ctx, ep))
	return ep
}

// setSecret creates or replaces the endpoint's Secret data.
func (f *endpointFixture) setSecret(t *testing.T, ep *v1.WebhookEndpoint, data map[string]string) {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ep.Namespace, Name: ep.Spec.SecretRef.Name}}
	err := testEnv.client.Get(ctx, client.ObjectKeyFromObject(secret), secret)
	if apierrors.IsNotFound(err) {
		secret.StringData = data
		require.NoError(t, testEnv.client.Create(ctx, secret))
		return
	}
	require.NoError(t, err)
	secret.Data = map[string][]byte{}
	for k, v := range data {
		secret.Data[k] = []byte(v)
	}
	require.NoError(t, testEnv.client.Update(ctx, secret))
}

// reconcile runs one pass and returns the endpoint as stored afterwards, or
// nil once it is gone.
func (f *endpointFixture) reconcile(t *testing.T, ep *v1.WebhookEndpoint) (*v1.WebhookEndpoint, ctrl.Result, error) {
	t.Helper()
	ctx := context.Background()
	res, err := f.reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ep)})
	got := &v1.WebhookEndpoint{}
	getErr := testEnv.client.Get(ctx, client.ObjectKeyFromObject(ep), got)
	if apierrors.IsNotFound(getErr) {
		return nil, res, err
	}
	require.NoError(t, getErr)
	return got, res, err
}

// store reconciles a new endpoint to Ready.
func (f *endpointFixture) store(t *testing.T, ep *v1.WebhookEndpoint) *v1.WebhookEndpoint {
	t.Helper()
	got, _, err := f.reconcile(t, ep)
	require.NoError(t, err)
	requireEndpointCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
	return got
}

func (f *endpointFixture) drainEvents() string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return strings.Join(out, "\n")
		}
	}
}

func requireEndpointCondition(t *testing.T, ep *v1.WebhookEndpoint, typ v1.ConditionType, status metav1.ConditionStatus, reason v1.ConditionReason) *metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(ep.Status.Conditions, string(typ))
	require.NotNil(t, c, "condition %s missing: %+v", typ, ep.Status.Conditions)
	require.Equal(t, status, c.Status, "%s: %s", typ, c.Message)
	require.Equal(t, string(reason), c.Reason, "%s: %s", typ, c.Message)
	require.Equal(t, ep.Generation, c.ObservedGeneration)
	require.Equal(t, ep.Generation, ep.Status.ObservedGeneration)
	return c
}

// storedRow is an endpoint's row as the superuser reads it, secrets
// decrypted with the Region's key ring.
type storedRow struct {
	tolerance int32
	secrets   []string
	disabled  bool
	xmin      string
}

func (f *endpointFixture) row(t *testing.T, id string) *storedRow {
	t.Helper()
	ctx := context.Background()
	var r storedRow
	var sealed []byte
	err := superConn(t, f.region.Spec.Database.Name).QueryRow(ctx,
		`SELECT tolerance_seconds, secrets, disabled, xmin::text FROM webhook_endpoints WHERE org_id = $1 AND id = $2`,
		f.orgID, id).Scan(&r.tolerance, &sealed, &r.disabled, &r.xmin)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	require.NoError(t, err)
	ring, err := keyring.Parse(f.regionFix.secret(t, controllers.KeyRingSecretName(f.region.Name)).Data[keyring.SecretKey])
	require.NoError(t, err)
	plain, err := ring.Decrypt(sealed, webhook.SecretsAAD(uuid.MustParse(id)))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(plain, &r.secrets))
	return &r
}

func (f *endpointFixture) routeKeyOrg(t *testing.T, id string) (uuid.UUID, bool) {
	t.Helper()
	var org uuid.UUID
	err := superConn(t, f.region.Spec.Database.Name).QueryRow(context.Background(),
		`SELECT org_id FROM route_keys WHERE kind = 'webhook_endpoint' AND key = $1 AND target_id = $1::uuid`, id).Scan(&org)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, false
	}
	require.NoError(t, err)
	return org, true
}

// auditCount counts the endpoint's audit entries with action, and fails
// when any of its entries' metadata carries a signing secret.
func (f *endpointFixture) auditCount(t *testing.T, id, action string) int {
	t.Helper()
	var n int
	var leaks bool
	require.NoError(t, superConn(t, f.region.Spec.Database.Name).QueryRow(context.Background(),
		`SELECT count(*) FILTER (WHERE action = $3), coalesce(bool_or(metadata::text LIKE '%whsec_%'), false)
		 FROM audit_log WHERE org_id = $1 AND target_type = 'webhook_endpoint' AND target_id = $2 AND actor_type = 'operator'`,
		f.orgID, id, action).Scan(&n, &leaks))
	require.False(t, leaks, "an audit entry carries a secret")
	return n
}

func TestWebhookEndpointStoresStripeSecret(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})

	got := f.store(t, ep)
	requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionTrue, v1.ReasonReconciled)
	id, err := uuid.Parse(got.Status.EndpointID)
	require.NoError(t, err)
	require.Equal(t, "https://eu.affiliates.example.com/webhooks/stripe/"+id.String(), got.Status.URL)
	require.Contains(t, got.Finalizers, "rekomi.io/endpoint")

	row := f.row(t, id.String())
	require.NotNil(t, row)
	require.EqualValues(t, 120, row.tolerance)
	require.Equal(t, []string{stripeSecret}, row.secrets)
	require.False(t, row.disabled)
	org, ok := f.routeKeyOrg(t, id.String())
	require.True(t, ok, "route key")
	require.Equal(t, f.orgID, org)
	require.Equal(t, 1, f.auditCount(t, id.String(), "webhook_endpoint.created"))

	evs := f.drainEvents()
	require.Contains(t, evs, "Normal Reconciled")
	require.NotContains(t, evs, stripeSecret)
}

func TestWebhookEndpointAcceptsClerkSecret(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderClerk, map[string]string{"current": svixTestSecret})

	got := f.store(t, ep)
	require.True(t, strings.HasSuffix(got.Status.URL, "/webhooks/clerk/"+got.Status.EndpointID), got.Status.URL)
	require.Equal(t, []string{svixTestSecret}, f.row(t, got.Status.EndpointID).secrets)
}

// TestWebhookEndpointAcceptsEachProvidersSecret: an endpoint of each newer
// provider stores its secret and gets its provider's URL; a value of
// another provider's form is refused with a condition naming the key and
// the form wanted, and no row is written.
func TestWebhookEndpointAcceptsEachProvidersSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		provider       v1.Provider
		secret, wanted string
	}{
		{v1.ProviderPaddle, "pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr", "is not a Paddle secret key"},
		{v1.ProviderShopify, "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", "is not a Shopify client secret"},
		{v1.ProviderBraintree, "n8pcxm4cwbqnmp2v:5d0c19e5e8aa4d27b3a6d1b7c0e2f9a4", "is not a Braintree key pair"},
	} {
		t.Run(string(tc.provider), func(t *testing.T) {
			t.Parallel()
			f := newEndpointFixture(t)
			bad := f.createEndpoint(t, tc.provider, map[string]string{"current": stripeSecret})
			got, _, err := f.reconcile(t, bad)
			require.NoError(t, err)
			c := requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionFalse, v1.ReasonSecretInvalid)
			require.Contains(t, c.Message, `key "current" `+tc.wanted)
			require.NotContains(t, c.Message, stripeSecret)
			require.Empty(t, got.Status.EndpointID, "no row for a malformed secret")

			f.setSecret(t, bad, map[string]string{"current": tc.secret})
			got = f.store(t, bad)
			requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionTrue, v1.ReasonReconciled)
			require.True(t, strings.HasSuffix(got.Status.URL, "/webhooks/"+string(tc.provider)+"/"+got.Status.EndpointID), got.Status.URL)
			require.Equal(t, []string{tc.secret}, f.row(t, got.Status.EndpointID).secrets)
			require.NotContains(t, f.drainEvents(), tc.secret)
		})
	}
}

func TestWebhookEndpointRotatesSecrets(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"old": stripeSecret})
	id := f.store(t, ep).Status.EndpointID

	f.setSecret(t, ep, map[string]string{"old": stripeSecret, "new": stripeSecretNew})
	got := f.store(t, ep)
	require.Equal(t, id, got.Status.EndpointID, "the id survives a rotation")
	require.ElementsMatch(t, []string{stripeSecret, stripeSecretNew}, f.row(t, id).secrets)
	require.Contains(t, meta.FindStatusCondition(got.Status.Conditions, string(v1.ConditionSecretValid)).Message, "holds 2")
	require.Equal(t, 1, f.auditCount(t, id, "webhook_endpoint.secrets_rotated"))

	f.setSecret(t, ep, map[string]string{"new": stripeSecretNew})
	f.store(t, ep)
	require.Equal(t, []string{stripeSecretNew}, f.row(t, id).secrets)
	require.Equal(t, 2, f.auditCount(t, id, "webhook_endpoint.secrets_rotated"))
	require.Equal(t, 1, f.auditCount(t, id, "webhook_endpoint.created"))
}

func TestWebhookEndpointUpdatesTolerance(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
	got := f.store(t, ep)
	got.Spec.Tolerance = metav1.Duration{Duration: 10 * time.Minute}
	require.NoError(t, testEnv.client.Update(context.Background(), got))

	f.store(t, ep)
	require.EqualValues(t, 600, f.row(t, got.Status.EndpointID).tolerance)
	require.Equal(t, 1, f.auditCount(t, got.Status.EndpointID, "webhook_endpoint.updated"))
}

func TestWebhookEndpointRepairsRowDriftOnResync(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
	got := f.store(t, ep)
	_, res, err := f.reconcile(t, ep)
	require.NoError(t, err)
	require.Equal(t, time.Minute, res.RequeueAfter, "a stored endpoint is checked again every resync period")

	_, err = superConn(t, f.region.Spec.Database.Name).Exec(context.Background(),
		"UPDATE webhook_endpoints SET tolerance_seconds = 60, disabled = true WHERE id = $1", got.Status.EndpointID)
	require.NoError(t, err)
	f.store(t, ep)
	row := f.row(t, got.Status.EndpointID)
	require.EqualValues(t, got.Spec.Tolerance.Seconds(), row.tolerance)
	require.False(t, row.disabled)
}

func TestWebhookEndpointReportsSecretFaults(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, nil)

	t.Run("MissingSecretIsWaitedFor", func(t *testing.T) {
		got, res, err := f.reconcile(t, ep)
		require.NoError(t, err)
		require.Positive(t, res.RequeueAfter, "a Secret without the watch label is looked for again")
		requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionFalse, v1.ReasonSecretNotFound)
		requireEndpointCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		require.Empty(t, got.Status.EndpointID, "no row before a valid Secret")
		require.Empty(t, got.Finalizers)
		require.Contains(t, f.drainEvents(), "Warning SecretNotFound")
	})

	t.Run("CreatedSecretIsStored", func(t *testing.T) {
		f.setSecret(t, ep, map[string]string{"current": stripeSecret})
		got := f.store(t, ep)
		requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionTrue, v1.ReasonReconciled)
	})

	t.Run("MalformedValueIsNamedByItsKey", func(t *testing.T) {
		const malformed = "whsec_ThisIsNot+AStripeSecret/AtAll"
		f.setSecret(t, ep, map[string]string{"current": stripeSecret, "pasted-wrong": malformed})
		got, _, err := f.reconcile(t, ep)
		require.NoError(t, err)
		c := requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionFalse, v1.ReasonSecretInvalid)
		require.Contains(t, c.Message, `"pasted-wrong"`)
		require.NotContains(t, c.Message, malformed)
		require.NotContains(t, c.Message, stripeSecret)
		requireEndpointCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		evs := f.drainEvents()
		require.Contains(t, evs, "Warning SecretInvalid")
		require.NotContains(t, evs, malformed)
		require.Equal(t, []string{stripeSecret}, f.row(t, got.Status.EndpointID).secrets, "the stored secrets are kept")
	})
}

func TestWebhookEndpointWaitsForOrganization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("MissingOrganization", func(t *testing.T) {
		t.Parallel()
		f := newEndpointReconciler(t)
		bindNamespace(t, f.ns, "no-such-organization")
		ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
		got, _, err := f.reconcile(t, ep)
		require.NoError(t, err)
		requireEndpointCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonOrganizationNotFound)
		requireEndpointCondition(t, got, v1.ConditionSecretValid, metav1.ConditionTrue, v1.ReasonReconciled)
		require.Empty(t, got.Status.EndpointID)
		require.Empty(t, got.Status.URL)
		require.Contains(t, f.drainEvents(), "Warning OrganizationNotFound")
	})

	t.Run("OrganizationWithoutID", func(t *testing.T) {
		t.Parallel()
		f := newEndpointReconciler(t)
		f.org = &v1.Organization{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "org")},
			Spec:       v1.OrganizationSpec{DisplayName: "Acme GmbH", Region: "eu", Plan: v1.PlanPro},
		}
		require.NoError(t, testEnv.client.Create(ctx, f.org))
		bindNamespace(t, f.ns, f.org.Name)
		ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
		got, _, err := f.reconcile(t, ep)
		require.NoError(t, err)
		c := requireEndpointCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		require.Contains(t, c.Message, "has no id yet")
	})
}

func TestWebhookEndpointSecondReconcileChangesNothing(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderClerk, map[string]string{"a": svixTestSecret, "b": "whsec_" + strings.Repeat("QUJD", 8)})
	got := f.store(t, ep)
	f.drainEvents()
	before := f.row(t, got.Status.EndpointID)

	again, res, err := f.reconcile(t, ep)
	require.NoError(t, err)
	require.Equal(t, ctrl.Result{RequeueAfter: time.Minute}, res, "only the periodic resync")
	require.Equal(t, got.ResourceVersion, again.ResourceVersion, "no status patch")
	require.Equal(t, before.xmin, f.row(t, got.Status.EndpointID).xmin, "no row update")
	require.Equal(t, 1, f.auditCount(t, got.Status.EndpointID, "webhook_endpoint.created"))
	require.Zero(t, f.auditCount(t, got.Status.EndpointID, "webhook_endpoint.secrets_rotated"))
	require.Empty(t, f.drainEvents())
}

func TestWebhookEndpointDeletion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
	id := f.store(t, ep).Status.EndpointID

	t.Run("DisablesTheRowAndRemovesTheRouteKey", func(t *testing.T) {
		require.NoError(t, testEnv.client.Delete(ctx, ep))
		got, _, err := f.reconcile(t, ep)
		require.NoError(t, err)
		require.Nil(t, got, "the finalizer is removed and the object is gone")
		row := f.row(t, id)
		require.NotNil(t, row, "the row is kept: billing events refer to it")
		require.True(t, row.disabled)
		_, ok := f.routeKeyOrg(t, id)
		require.False(t, ok, "route key")
		require.Equal(t, 1, f.auditCount(t, id, "webhook_endpoint.disabled"))
	})

	t.Run("ANewEndpointTakesTheName", func(t *testing.T) {
		again := f.createEndpoint(t, v1.ProviderStripe, nil)
		got := f.store(t, again)
		require.NotEqual(t, id, got.Status.EndpointID)
		require.True(t, f.row(t, id).disabled, "the old row stays disabled")
		_, ok := f.routeKeyOrg(t, got.Status.EndpointID)
		require.True(t, ok)
	})

	t.Run("IsNotHeldByAGoneOrganization", func(t *testing.T) {
		again := &v1.WebhookEndpoint{}
		require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(ep), again))
		require.NoError(t, testEnv.client.Delete(ctx, f.org))
		require.NoError(t, testEnv.client.Delete(ctx, again))
		got, _, err := f.reconcile(t, again)
		require.NoError(t, err)
		require.Nil(t, got, "the finalizer is removed and the object is gone")
	})
}

// served counts the rows of f's organization named after ep that are
// enabled, and the route keys that lead to any row named after it.
func (f *endpointFixture) served(t *testing.T, ep *v1.WebhookEndpoint) (rows, routes int) {
	t.Helper()
	conn := superConn(t, f.region.Spec.Database.Name)
	name := ep.Namespace + "/" + ep.Name
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM webhook_endpoints WHERE org_id = $1 AND name = $2 AND NOT disabled`,
		f.orgID, name).Scan(&rows))
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) FROM route_keys r JOIN webhook_endpoints w ON w.org_id = r.org_id AND w.id = r.target_id
		 WHERE r.kind = 'webhook_endpoint' AND w.org_id = $1 AND w.name = $2`,
		f.orgID, name).Scan(&routes))
	return rows, routes
}

// requireNotBound checks that ep reports its namespace as not bound to its
// organization, naming the namespace, the label and the value it needs, and
// publishes no URL.
func requireNotBound(t *testing.T, ep *v1.WebhookEndpoint) {
	t.Helper()
	c := requireEndpointCondition(t, ep, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonNamespaceNotBound)
	require.Contains(t, c.Message, ep.Namespace)
	require.Contains(t, c.Message, v1.OrganizationLabel+": "+ep.Spec.Organization)
	require.Empty(t, ep.Status.URL)
}

func TestWebhookEndpointRefusesAnUnboundNamespace(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	other, _ := seedOrganization(t, f.region)

	for name, label := range map[string]string{
		"Unlabelled":                     "",
		"LabelledForAnotherOrganization": other.Name,
	} {
		t.Run(name, func(t *testing.T) {
			g := *f
			g.ns = newNamespace(t)
			if label != "" {
				bindNamespace(t, g.ns, label)
			}
			ep := g.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
			got, res, err := g.reconcile(t, ep)
			require.NoError(t, err)
			requireNotBound(t, got)
			require.Zero(t, res.RequeueAfter, "the namespace's watch brings the endpoint back")
			require.Empty(t, got.Status.EndpointID, "no row is written")
			require.Empty(t, got.Finalizers)
			rows, routes := g.served(t, got)
			require.Zero(t, rows, "enabled rows")
			require.Zero(t, routes, "route keys")
			require.Contains(t, g.drainEvents(), "Warning NamespaceNotBound")
		})
	}
}

func TestWebhookEndpointFollowsItsNamespaceBinding(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
	stored := f.store(t, ep)
	id := stored.Status.EndpointID
	_, ok := f.routeKeyOrg(t, id)
	require.True(t, ok, "route key")
	f.drainEvents()

	t.Run("UnboundDisablesTheRowAndRemovesTheRouteKey", func(t *testing.T) {
		bindNamespace(t, f.ns, "")
		got, res, err := f.reconcile(t, ep)
		require.NoError(t, err)
		requireNotBound(t, got)
		require.Zero(t, res.RequeueAfter, "the namespace's watch brings the endpoint back")
		require.Equal(t, id, got.Status.EndpointID, "the id is kept")
		require.Contains(t, got.Finalizers, "rekomi.io/endpoint")
		row := f.row(t, id)
		require.NotNil(t, row)
		require.True(t, row.disabled)
		_, ok := f.routeKeyOrg(t, id)
		require.False(t, ok, "route key")
		require.Equal(t, 1, f.auditCount(t, id, "webhook_endpoint.disabled"))
		require.Contains(t, f.drainEvents(), "Warning NamespaceNotBound")

		again, _, err := f.reconcile(t, ep)
		require.NoError(t, err)
		require.Equal(t, got.ResourceVersion, again.ResourceVersion, "no status patch")
		require.Equal(t, 1, f.auditCount(t, id, "webhook_endpoint.disabled"))
		require.Empty(t, f.drainEvents())
	})

	t.Run("BoundAgainRestoresIt", func(t *testing.T) {
		bindNamespace(t, f.ns, f.org.Name)
		got := f.store(t, ep)
		require.Equal(t, id, got.Status.EndpointID)
		require.Equal(t, stored.Status.URL, got.Status.URL)
		row := f.row(t, id)
		require.False(t, row.disabled)
		require.Equal(t, []string{stripeSecret}, row.secrets)
		org, ok := f.routeKeyOrg(t, id)
		require.True(t, ok, "route key")
		require.Equal(t, f.orgID, org)
		require.Contains(t, f.drainEvents(), "Normal Reconciled")
	})
}

// TestWebhookEndpointWatchesItsNamespace runs the controller in a manager
// that sees only the test's namespaces, with a resync far away: removing the
// namespace's label withdraws the endpoint at once, and putting it back
// stores the endpoint again.
func TestWebhookEndpointWatchesItsNamespace(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	f.runManager(t)

	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
	var got *v1.WebhookEndpoint
	ready := func(reason v1.ConditionReason) { got = waitEndpointReason(t, ep, reason) }
	ready(v1.ReasonReconciled)
	id := got.Status.EndpointID
	_, ok := f.routeKeyOrg(t, id)
	require.True(t, ok, "route key")

	bindNamespace(t, f.ns, "")
	ready(v1.ReasonNamespaceNotBound)
	require.Empty(t, got.Status.URL)
	require.True(t, f.row(t, id).disabled)
	_, ok = f.routeKeyOrg(t, id)
	require.False(t, ok, "route key")

	bindNamespace(t, f.ns, f.org.Name)
	ready(v1.ReasonReconciled)
	require.Equal(t, id, got.Status.EndpointID)
	require.False(t, f.row(t, id).disabled)
	_, ok = f.routeKeyOrg(t, id)
	require.True(t, ok, "route key")
}

// TestWebhookEndpointFollowsItsRegionsOwnerCredentials runs the controller
// in a manager with a resync far away and moves the Region's owner
// credentials, as a database server restarted on another port does: a
// Ready endpoint is not reconciled again by itself, so only the Secret's
// watch can bring it to the move and back.
func TestWebhookEndpointFollowsItsRegionsOwnerCredentials(t *testing.T) {
	t.Parallel()
	f := newEndpointFixture(t)
	f.runManager(t)

	ep := f.createEndpoint(t, v1.ProviderStripe, map[string]string{"current": stripeSecret})
	ready := func(reason v1.ConditionReason) { waitEndpointReason(t, ep, reason) }
	ready(v1.ReasonReconciled)

	moveOwnerURLAndBack(t, f.regionFix.secret(t, controllers.OwnerSecretName(f.region.Name)), ready)

	// The Secret's watch finds the endpoint through the manager's index.
	got := waitEndpointReason(t, ep, v1.ReasonReconciled)
	f.setSecret(t, ep, map[string]string{"current": stripeSecret, "next": stripeSecretNew})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.ElementsMatch(c, []string{stripeSecret, stripeSecretNew}, f.row(t, got.Status.EndpointID).secrets)
	}, 15*time.Second, 50*time.Millisecond, "the rotated Secret is stored at once")
}

// runManager runs the endpoint controller, with a resync far away, in a
// manager that sees only f's namespaces, until t ends.
func (f *endpointFixture) runManager(t *testing.T) {
	t.Helper()
	mgr, err := ctrl.NewManager(testEnv.cfg, ctrl.Options{
		Scheme:  testEnv.scheme,
		Logger:  logr.Discard(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{
			f.ns: {}, f.region.Spec.Namespace: {},
		}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	require.NoError(t, (&controllers.WebhookEndpointReconciler{
		Client:       mgr.GetClient(),
		Recorder:     events.NewFakeRecorder(100),
		DBs:          dbs,
		ResyncPeriod: time.Hour,
	}).SetupWithManager(mgr))
	runManager(t, mgr)
}

// waitEndpointReason waits until ep's Ready condition has reason and
// returns ep as stored then.
func waitEndpointReason(t *testing.T, ep *v1.WebhookEndpoint, reason v1.ConditionReason) *v1.WebhookEndpoint {
	t.Helper()
	got := &v1.WebhookEndpoint{}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, testEnv.client.Get(context.Background(), client.ObjectKeyFromObject(ep), got))
		cond := meta.FindStatusCondition(got.Status.Conditions, string(v1.ConditionReady))
		require.NotNil(c, cond)
		require.Equal(c, string(reason), cond.Reason)
	}, 15*time.Second, 50*time.Millisecond, "Ready with reason %s", reason)
	return got
}
