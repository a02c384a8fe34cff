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
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/apikey"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/controllers"
)

// orgFixture is a provisioned Region and an Organization reconciler with a
// fake clock and an event recorder.
type orgFixture struct {
	rf         *regionFixture
	region     *v1.Region
	reconciler *controllers.OrganizationReconciler
	recorder   *events.FakeRecorder
	clock      *clocktesting.FakeClock
}

var orgEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newOrgFixture(t *testing.T) *orgFixture {
	t.Helper()
	rf := newRegionFixture(t, testEnv.adminURL)
	region := rf.provision(t)
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	recorder := events.NewFakeRecorder(100)
	clk := clocktesting.NewFakeClock(orgEpoch)
	return &orgFixture{
		rf: rf, region: region, recorder: recorder, clock: clk,
		reconciler: &controllers.OrganizationReconciler{
			Client: testEnv.client, Recorder: recorder, DBs: dbs, Clock: clk, Rand: rand.Reader,
		},
	}
}

// newOrg creates an Organization on plan pro in the fixture's Region.
func (f *orgFixture) newOrg(t *testing.T) *v1.Organization {
	t.Helper()
	org := &v1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "org")},
		Spec:       v1.OrganizationSpec{DisplayName: "Acme GmbH", Region: f.region.Name, Plan: v1.PlanPro},
	}
	require.NoError(t, testEnv.client.Create(context.Background(), org))
	return org
}

// reconcile runs one pass and returns the Organization as stored afterwards,
// nil once it is gone.
func (f *orgFixture) reconcile(t *testing.T, org *v1.Organization) (*v1.Organization, ctrl.Result) {
	t.Helper()
	got, res, err := f.tryReconcile(t, org)
	require.NoError(t, err)
	return got, res
}

func (f *orgFixture) tryReconcile(t *testing.T, org *v1.Organization) (*v1.Organization, ctrl.Result, error) {
	t.Helper()
	ctx := context.Background()
	res, err := f.reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: org.Name}})
	got := &v1.Organization{}
	getErr := testEnv.client.Get(ctx, client.ObjectKeyFromObject(org), got)
	if apierrors.IsNotFound(getErr) {
		return nil, res, err
	}
	require.NoError(t, getErr)
	return got, res, err
}

// provision reconciles a fresh Organization to Ready.
func (f *orgFixture) provision(t *testing.T, org *v1.Organization) *v1.Organization {
	t.Helper()
	got, _ := f.reconcile(t, org)
	requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
	return got
}

func (f *orgFixture) update(t *testing.T, org *v1.Organization, mutate func(*v1.Organization)) {
	t.Helper()
	ctx := context.Background()
	fresh := &v1.Organization{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(org), fresh))
	mutate(fresh)
	require.NoError(t, testEnv.client.Update(ctx, fresh))
}

func (f *orgFixture) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// conn is a superuser connection to the Region database: it sees every
// organization's rows.
func (f *orgFixture) conn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.WithDatabase(t, testEnv.adminURL, f.region.Spec.Database.Name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func (f *orgFixture) adminKeySecret(t *testing.T, org *v1.Organization) (*corev1.Secret, error) {
	t.Helper()
	s := &corev1.Secret{}
	err := testEnv.client.Get(context.Background(),
		types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: controllers.AdminKeySecretName(org.Name)}, s)
	return s, err
}

func requireOrgCondition(t *testing.T, org *v1.Organization, typ v1.ConditionType, status metav1.ConditionStatus, reason v1.ConditionReason) *metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(org.Status.Conditions, string(typ))
	require.NotNil(t, c, "condition %s missing: %+v", typ, org.Status.Conditions)
	require.Equal(t, status, c.Status, "%s: %s", typ, c.Message)
	require.Equal(t, string(reason), c.Reason, "%s: %s", typ, c.Message)
	require.Equal(t, org.Generation, c.ObservedGeneration)
	return c
}

// auditActions lists the organization's audit log, oldest first, as
// "actor_type action".
func auditActions(t *testing.T, conn *pgx.Conn, id string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT actor_type || ' ' || action FROM audit_log WHERE org_id = $1 ORDER BY seq", id)
	require.NoError(t, err)
	actions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return actions
}

func requireAuditChainOK(t *testing.T, conn *pgx.Conn, id string) {
	t.Helper()
	v, err := audit.Verify(context.Background(), conn, uuid.MustParse(id))
	require.NoError(t, err)
	require.True(t, v.OK(), "%s at %d: %s", v.Problem, v.BrokenSeq, v.Detail)
}

func queryRow(t *testing.T, conn *pgx.Conn, sql string, args []any, dest ...any) {
	t.Helper()
	require.NoError(t, conn.QueryRow(context.Background(), sql, args...).Scan(dest...), sql)
}

func TestOrganizationProvisions(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	org := f.newOrg(t)
	got := f.provision(t, org)
	conn := f.conn(t)

	require.NotEmpty(t, got.Status.ID)
	require.Nil(t, got.Status.PurgeAt)
	require.Contains(t, got.Finalizers, controllers.PurgeFinalizer)
	require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Normal Reconciled")

	var name, display, plan, status string
	queryRow(t, conn, "SELECT name, display_name, plan, status FROM organizations WHERE id = $1", []any{got.Status.ID},
		&name, &display, &plan, &status)
	require.Equal(t, []string{org.Name, "Acme GmbH", "pro", "active"}, []string{name, display, plan, status})

	t.Run("AdminKeyDeliveredAndStoredAsHash", func(t *testing.T) {
		secret, err := f.adminKeySecret(t, org)
		require.NoError(t, err)
		require.Len(t, secret.OwnerReferences, 1)
		require.Equal(t, got.UID, secret.OwnerReferences[0].UID)
		require.True(t, *secret.OwnerReferences[0].Controller)
		require.Equal(t, f.region.Name, secret.Labels["rekomi.io/region"])
		key := string(secret.Data[controllers.AdminKeySecretKey])
		prefix, err := apikey.Parse(key)
		require.NoError(t, err)

		var keyID, createdBy string
		var hash []byte
		var scopes []string
		queryRow(t, conn, "SELECT id::text, hash, scopes, created_by FROM api_keys WHERE org_id = $1 AND prefix = $2",
			[]any{got.Status.ID, prefix}, &keyID, &hash, &scopes, &createdBy)
		require.True(t, apikey.Matches(key, hash))
		require.Equal(t, []string{"read", "write"}, scopes)
		require.Equal(t, "operator", createdBy)
		var routedOrg, target string
		queryRow(t, conn, "SELECT org_id::text, target_id::text FROM route_keys WHERE kind = 'api_key_prefix' AND key = $1",
			[]any{prefix}, &routedOrg, &target)
		require.Equal(t, got.Status.ID, routedOrg)
		require.Equal(t, keyID, target)
		require.NotContains(t, strings.Join(auditActions(t, conn, got.Status.ID), " "), key)
	})

	t.Run("Audited", func(t *testing.T) {
		require.Equal(t, []string{"operator organization.created", "operator api_key.created"}, auditActions(t, conn, got.Status.ID))
		requireAuditChainOK(t, conn, got.Status.ID)
	})

	t.Run("SecondReconcileChangesNothing", func(t *testing.T) {
		secret, err := f.adminKeySecret(t, org)
		require.NoError(t, err)
		var xmin string
		queryRow(t, conn, "SELECT xmin::text FROM organizations WHERE id = $1", []any{got.Status.ID}, &xmin)

		again, res := f.reconcile(t, org)
		require.Equal(t, got.ResourceVersion, again.ResourceVersion, "no status or metadata patch")
		require.Zero(t, res.RequeueAfter)
		after, err := f.adminKeySecret(t, org)
		require.NoError(t, err)
		require.Equal(t, secret.ResourceVersion, after.ResourceVersion, "no Secret update")
		var xminAfter string
		queryRow(t, conn, "SELECT xmin::text FROM organizations WHERE id = $1", []any{got.Status.ID}, &xminAfter)
		require.Equal(t, xmin, xminAfter, "no row update")
		require.Len(t, auditActions(t, conn, got.Status.ID), 2)
		var keys int
		queryRow(t, conn, "SELECT count(*) FROM api_keys WHERE org_id = $1", []any{got.Status.ID}, &keys)
		require.Equal(t, 1, keys, "the key is delivered once")
		require.Empty(t, f.drainEvents())
	})

	t.Run("DisplayNameChangeIsAudited", func(t *testing.T) {
		f.update(t, org, func(o *v1.Organization) { o.Spec.DisplayName = "Acme AG" })
		f.reconcile(t, org)
		queryRow(t, conn, "SELECT display_name FROM organizations WHERE id = $1", []any{got.Status.ID}, &display)
		require.Equal(t, "Acme AG", display)
		require.Equal(t, "operator organization.updated", auditActions(t, conn, got.Status.ID)[2])
		requireAuditChainOK(t, conn, got.Status.ID)
	})
}

func TestOrganizationAdminKeyAfterFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	// A pass that wrote the Secret (controlled by the Organization) and
	// failed before the rows: the next pass stores that key, not a new one.
	key, prefix, err := apikey.Generate(rand.Reader)
	require.NoError(t, err)
	written := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace, Name: controllers.AdminKeySecretName(org.Name)},
		Data:       map[string][]byte{controllers.AdminKeySecretKey: []byte(key)},
	}
	require.NoError(t, controllerutil.SetControllerReference(org, written, testEnv.scheme))
	require.NoError(t, testEnv.client.Create(ctx, written))
	id := f.provision(t, org).Status.ID
	var hash []byte
	queryRow(t, conn, "SELECT hash FROM api_keys WHERE org_id = $1 AND prefix = $2", []any{id, prefix}, &hash)
	require.True(t, apikey.Matches(key, hash))

	// A Secret lost after delivery is not replaced: the database holds the
	// key, and a new one would be a second credential nobody asked for.
	secret, err := f.adminKeySecret(t, org)
	require.NoError(t, err)
	require.NoError(t, testEnv.client.Delete(ctx, secret))
	f.reconcile(t, org)
	_, err = f.adminKeySecret(t, org)
	require.True(t, apierrors.IsNotFound(err))
	var keys int
	queryRow(t, conn, "SELECT count(*) FROM api_keys WHERE org_id = $1", []any{id}, &keys)
	require.Equal(t, 1, keys)
}

func TestOrganizationWaitsForItsRegion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rf := newRegionFixture(t, testEnv.adminURL)
	f := &orgFixture{rf: rf, region: rf.region.DeepCopy()}
	dbs := controllers.NewRegionDatabases()
	t.Cleanup(dbs.Close)
	f.recorder = events.NewFakeRecorder(100)
	f.clock = clocktesting.NewFakeClock(orgEpoch)
	f.reconciler = &controllers.OrganizationReconciler{Client: testEnv.client, Recorder: f.recorder, DBs: dbs, Clock: f.clock, Rand: rand.Reader}
	require.NoError(t, testEnv.client.Delete(ctx, rf.region))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(testEnv.client.Get(ctx, client.ObjectKeyFromObject(rf.region), &v1.Region{}))
	}, 10*time.Second, 50*time.Millisecond)
	org := f.newOrg(t)

	got, res := f.reconcile(t, org)
	c := requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonRegionNotFound)
	require.Contains(t, c.Message, f.region.Name)
	require.Zero(t, res.RequeueAfter, "the Region watch brings it back")
	require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning RegionNotFound")

	// The Region appears, not provisioned yet.
	region := f.region.DeepCopy()
	region.ResourceVersion, region.UID = "", ""
	require.NoError(t, testEnv.client.Create(ctx, region))
	got, res = f.reconcile(t, org)
	requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
	require.Positive(t, res.RequeueAfter, "waits for the Region's database")
	require.Empty(t, got.Status.ID, "nothing provisioned yet")

	rf.region = region
	f.region = rf.provision(t)
	got = f.provision(t, org)
	require.NotEmpty(t, got.Status.ID)
}

func TestOrganizationPlanNotAllowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	region := &v1.Region{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(f.region), region))
	region.Spec.AllowedPlans = []v1.Plan{v1.PlanPro, v1.PlanEnterprise}
	require.NoError(t, testEnv.client.Update(ctx, region))
	conn := f.conn(t)

	t.Run("NotProvisioned", func(t *testing.T) {
		t.Parallel()
		org := &v1.Organization{
			ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "org")},
			Spec:       v1.OrganizationSpec{DisplayName: "Small Shop", Region: f.region.Name, Plan: v1.PlanStarter},
		}
		require.NoError(t, testEnv.client.Create(ctx, org))
		got, _ := f.reconcile(t, org)
		c := requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonPlanNotAllowed)
		require.Contains(t, c.Message, "plan starter is not allowed")
		require.Empty(t, got.Status.ID)
		var n int
		queryRow(t, conn, "SELECT count(*) FROM organizations WHERE name = $1", []any{org.Name}, &n)
		require.Zero(t, n)
		_, err := f.adminKeySecret(t, org)
		require.True(t, apierrors.IsNotFound(err), "no key delivered")
	})

	t.Run("DowngradeKeepsData", func(t *testing.T) {
		t.Parallel()
		org := f.newOrg(t)
		got := f.provision(t, org)
		f.update(t, org, func(o *v1.Organization) { o.Spec.Plan = v1.PlanStarter })
		got, _ = f.reconcile(t, org)
		c := requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonPlanNotAllowed)
		require.Contains(t, c.Message, "keeps its data on plan pro")
		var plan, status string
		var keys int
		queryRow(t, conn, "SELECT plan, status, (SELECT count(*) FROM api_keys WHERE org_id = $1) FROM organizations WHERE id = $1",
			[]any{got.Status.ID}, &plan, &status, &keys)
		require.Equal(t, []string{"pro", "active"}, []string{plan, status})
		require.Equal(t, 1, keys)
	})
}

// seedTenantRows adds a campaign, an affiliate, a link, clicks and a promo
// code as the superuser.
func seedTenantRows(t *testing.T, conn *pgx.Conn, orgID string) {
	t.Helper()
	ctx := context.Background()
	campaign, affiliate, link := uuid.New(), uuid.New(), uuid.New()
	code := "c" + strings.ReplaceAll(link.String(), "-", "")[:12]
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO campaigns (org_id, id, name, currency, commission_type, commission_bps) VALUES ($1, $2, 'Spring', 'EUR', 'percentage', 1000)", []any{orgID, campaign}},
		{"INSERT INTO affiliates (org_id, id, email) VALUES ($1, $2, 'ada@example.com')", []any{orgID, affiliate}},
		{"INSERT INTO referral_links (org_id, id, affiliate_id, campaign_id, code, destination_url) VALUES ($1, $2, $3, $4, $5, 'https://example.com/')", []any{orgID, link, affiliate, campaign, code}},
		{"INSERT INTO route_keys (kind, key, org_id, target_id) VALUES ('link_code', $2, $1, $3)", []any{orgID, code, link}},
		{"INSERT INTO clicks (org_id, link_id, visitor_id, occurred_at) SELECT $1, $2, gen_random_uuid(), now() FROM generate_series(1, 3)", []any{orgID, link}},
		{"INSERT INTO promo_codes (org_id, code, affiliate_id, campaign_id) VALUES ($1, 'SPRING', $2, $3)", []any{orgID, affiliate, campaign}},
	} {
		_, err := conn.Exec(ctx, stmt.sql, stmt.args...)
		require.NoError(t, err, stmt.sql)
	}
}

// tenantRowCounts counts the organization's rows in every table with an
// org_id column, found from the catalog.
func tenantRowCounts(t *testing.T, conn *pgx.Conn, orgID string) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attname = 'org_id' AND NOT a.attisdropped`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(tables), 15)
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		queryRow(t, conn, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()+" WHERE org_id = $1", []any{orgID}, &n)
		counts[table] = n
	}
	return counts
}

func TestOrganizationCancelThenPurge(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	got := f.provision(t, org)
	id := got.Status.ID
	seedTenantRows(t, conn, id)
	other := f.provision(t, f.newOrg(t))
	seedTenantRows(t, conn, other.Status.ID)
	otherBefore := tenantRowCounts(t, conn, other.Status.ID)
	f.drainEvents()

	f.update(t, org, func(o *v1.Organization) { o.Spec.Cancelled = true })
	got, res := f.reconcile(t, org)
	grace := 720 * time.Hour
	require.NotNil(t, got.Status.PurgeAt)
	require.True(t, got.Status.PurgeAt.Time.Equal(orgEpoch.Add(grace)), "purgeAt %s", got.Status.PurgeAt)
	require.Equal(t, grace, res.RequeueAfter, "looks again at purgeAt")
	c := requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
	require.Contains(t, c.Message, "cancelled")
	var status string
	queryRow(t, conn, "SELECT status FROM organizations WHERE id = $1", []any{id}, &status)
	require.Equal(t, "cancelled", status)
	require.Equal(t, "operator organization.cancelled", auditActions(t, conn, id)[2])

	t.Run("NotBeforePurgeAt", func(t *testing.T) {
		f.clock.Step(grace - time.Minute)
		again, res := f.reconcile(t, org)
		require.Equal(t, got.ResourceVersion, again.ResourceVersion)
		require.Equal(t, time.Minute, res.RequeueAfter)
		require.Positive(t, tenantRowCounts(t, conn, id)["clicks"])
	})

	t.Run("PurgedAtPurgeAt", func(t *testing.T) {
		f.clock.Step(time.Minute)
		purged, res := f.reconcile(t, org)
		require.Zero(t, res.RequeueAfter)
		requireOrgCondition(t, purged, v1.ConditionPurged, metav1.ConditionTrue, v1.ReasonPurged)
		requireOrgCondition(t, purged, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonPurged)
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Normal Purged")

		for table, n := range tenantRowCounts(t, conn, id) {
			switch table {
			case "audit_log":
				require.Positive(t, n, "the audit log is kept")
				continue
			case "route_keys":
				require.Equal(t, 2, n, "the link code and the admin key's prefix stay, as tombstones")
				continue
			}
			require.Zero(t, n, "rows of the purged organization left in %s", table)
		}
		require.Equal(t, otherBefore, tenantRowCounts(t, conn, other.Status.ID), "another organization keeps its rows")
		queryRow(t, conn, "SELECT status FROM organizations WHERE id = $1", []any{id}, &status)
		require.Equal(t, "purged", status)
		actions := auditActions(t, conn, id)
		require.Equal(t, "operator organization.purged", actions[len(actions)-1])
		requireAuditChainOK(t, conn, id)
		_, err := f.adminKeySecret(t, org)
		require.True(t, apierrors.IsNotFound(err), "the dead key's Secret is removed")
	})

	t.Run("PurgedStaysPurged", func(t *testing.T) {
		f.update(t, org, func(o *v1.Organization) { o.Spec.Cancelled = false })
		again, _ := f.reconcile(t, org)
		requireOrgCondition(t, again, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonPurged)
		queryRow(t, conn, "SELECT status FROM organizations WHERE id = $1", []any{id}, &status)
		require.Equal(t, "purged", status)
	})
}

func TestOrganizationReactivatedBeforePurge(t *testing.T) {
	t.Parallel()
	f := newOrgFixture(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	id := f.provision(t, org).Status.ID
	f.update(t, org, func(o *v1.Organization) { o.Spec.Cancelled = true })
	f.reconcile(t, org)
	f.update(t, org, func(o *v1.Organization) { o.Spec.Cancelled = false })
	got, res := f.reconcile(t, org)
	require.Nil(t, got.Status.PurgeAt)
	require.Zero(t, res.RequeueAfter)
	var status string
	var cancelledAt *time.Time
	queryRow(t, conn, "SELECT status, cancelled_at FROM organizations WHERE id = $1", []any{id}, &status, &cancelledAt)
	require.Equal(t, "active", status)
	require.Nil(t, cancelledAt)
	require.Equal(t, []string{"operator organization.created", "operator api_key.created",
		"operator organization.cancelled", "operator organization.reactivated"}, auditActions(t, conn, id))
}

func TestOrganizationDeletionWaitsForPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	id := f.provision(t, org).Status.ID
	require.NoError(t, testEnv.client.Delete(ctx, org))

	got, res := f.reconcile(t, org)
	require.NotNil(t, got, "held by the finalizer")
	require.NotNil(t, got.DeletionTimestamp)
	require.True(t, got.Status.PurgeAt.Time.Equal(orgEpoch.Add(720*time.Hour)))
	require.Equal(t, 720*time.Hour, res.RequeueAfter)
	var status string
	queryRow(t, conn, "SELECT status FROM organizations WHERE id = $1", []any{id}, &status)
	require.Equal(t, "cancelled", status, "deleting cancels first")

	f.clock.Step(720 * time.Hour)
	got, _ = f.reconcile(t, org)
	require.Nil(t, got, "gone once purged")
	queryRow(t, conn, "SELECT status FROM organizations WHERE id = $1", []any{id}, &status)
	require.Equal(t, "purged", status)
	requireAuditChainOK(t, conn, id)
}

func TestOrganizationDeletionOfUnprovisioned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	org := &v1.Organization{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName(t, "org")},
		Spec:       v1.OrganizationSpec{DisplayName: "Nowhere", Region: "no-such-region", Plan: v1.PlanPro},
	}
	require.NoError(t, testEnv.client.Create(ctx, org))
	got, _ := f.reconcile(t, org)
	require.Contains(t, got.Finalizers, controllers.PurgeFinalizer)
	require.NoError(t, testEnv.client.Delete(ctx, org))
	got, _ = f.reconcile(t, org)
	require.Nil(t, got, "nothing to purge: the finalizer goes at once")
}

func TestOrganizationPurgeNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	conn := f.conn(t)

	t.Run("PurgesAtOnceAndAuditsTheOverride", func(t *testing.T) {
		org := f.newOrg(t)
		id := f.provision(t, org).Status.ID
		seedTenantRows(t, conn, id)
		f.update(t, org, func(o *v1.Organization) {
			o.Annotations = map[string]string{controllers.PurgeNowAnnotation: "true"}
		})
		got, _ := f.reconcile(t, org)
		requireOrgCondition(t, got, v1.ConditionPurged, metav1.ConditionTrue, v1.ReasonPurged)
		require.Zero(t, tenantRowCounts(t, conn, id)["clicks"])
		actions := auditActions(t, conn, id)
		require.Equal(t, []string{"operator organization.cancelled", "admin admin.override", "operator organization.purged"}, actions[2:])
		var annotation, manager string
		queryRow(t, conn, "SELECT metadata->>'annotation', metadata->>'field_manager' FROM audit_log WHERE org_id = $1 AND action = 'admin.override'",
			[]any{id}, &annotation, &manager)
		require.Equal(t, controllers.PurgeNowAnnotation, annotation)
		require.NotEqual(t, "unknown", manager, "names who set the annotation")
		_, err := f.adminKeySecret(t, org)
		require.True(t, apierrors.IsNotFound(err))
		requireAuditChainOK(t, conn, id)
	})

	t.Run("DeletedCRGoesAtOnce", func(t *testing.T) {
		org := f.newOrg(t)
		id := f.provision(t, org).Status.ID
		f.update(t, org, func(o *v1.Organization) {
			o.Annotations = map[string]string{controllers.PurgeNowAnnotation: "true"}
		})
		require.NoError(t, testEnv.client.Delete(ctx, org))
		got, _ := f.reconcile(t, org)
		require.Nil(t, got)
		var status string
		queryRow(t, conn, "SELECT status FROM organizations WHERE id = $1", []any{id}, &status)
		require.Equal(t, "purged", status)
	})
}

// TestOrganizationAdminKeySecretNotOwned is the key planted by whoever may
// create Secrets in the Region's namespace: a Secret of the admin key's name,
// holding a key of their choosing, made before the Organization. Reused, its
// key would become the organization's admin key; overwritten, someone's
// Secret would be lost. Neither happens: the Organization says why it waits.
func TestOrganizationAdminKeySecretNotOwned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	conn := f.conn(t)

	t.Run("APlantedKeyIsNotAdopted", func(t *testing.T) {
		org := f.newOrg(t)
		key, prefix, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		planted := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace, Name: controllers.AdminKeySecretName(org.Name)},
			Data:       map[string][]byte{controllers.AdminKeySecretKey: []byte(key)},
		}
		require.NoError(t, testEnv.client.Create(ctx, planted))

		got, res := f.reconcile(t, org)
		c := requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonAdminKeySecretNotOwned)
		require.Contains(t, c.Message, f.region.Spec.Namespace+"/"+planted.Name)
		require.Positive(t, res.RequeueAfter, "looks again for the Secret to be removed")
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning AdminKeySecretNotOwned")
		var keys int
		queryRow(t, conn, "SELECT count(*) FROM api_keys WHERE prefix = $1", []any{prefix}, &keys)
		require.Zero(t, keys, "the planted key was stored")
		after, err := f.adminKeySecret(t, org)
		require.NoError(t, err)
		require.Equal(t, planted.ResourceVersion, after.ResourceVersion, "the Secret was written")

		// Its owner removes it: the organization gets a key of its own.
		require.NoError(t, testEnv.client.Delete(ctx, planted))
		got = f.provision(t, org)
		own, err := f.adminKeySecret(t, org)
		require.NoError(t, err)
		require.True(t, metav1.IsControlledBy(own, got))
		require.NotEqual(t, key, string(own.Data[controllers.AdminKeySecretKey]))
	})

	t.Run("AnotherSecretOfThatNameIsNotOverwritten", func(t *testing.T) {
		org := f.newOrg(t)
		other := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace, Name: controllers.AdminKeySecretName(org.Name)},
			Data:       map[string][]byte{"token": []byte("someone else's")},
		}
		require.NoError(t, testEnv.client.Create(ctx, other))
		got, _ := f.reconcile(t, org)
		requireOrgCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonAdminKeySecretNotOwned)
		after, err := f.adminKeySecret(t, org)
		require.NoError(t, err)
		require.Equal(t, other.ResourceVersion, after.ResourceVersion)
		require.Equal(t, other.Data, after.Data)
	})
}
