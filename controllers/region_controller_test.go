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
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/controllers"
	"github.com/rekomi/rekomi/migrations"
)

// regionFixture is one Region with its own namespace, database and roles,
// and a reconciler that records events.
type regionFixture struct {
	region     *v1.Region
	reconciler *controllers.RegionReconciler
	recorder   *events.FakeRecorder
	adminNS    string
}

func newRegionFixture(t testing.TB, adminURL string) *regionFixture {
	t.Helper()
	ctx := context.Background()
	adminNS := newNamespace(t)
	require.NoError(t, testEnv.client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: adminNS, Name: "postgres-admin"},
		StringData: map[string]string{"url": adminURL},
	}))
	region := validRegion(t)
	region.Spec.Namespace = uniqueName(t, "ns")
	region.Spec.Database.AdminSecretRef = v1.SecretKeyReference{Namespace: adminNS, Name: "postgres-admin"}
	region.Spec.Database.Name = dbtest.UniqueName("region")
	region.Spec.Database.OwnerRole = dbtest.UniqueName("owner")
	region.Spec.Database.RuntimeRole = dbtest.UniqueName("app")
	region.Spec.Placement = &v1.Placement{NodeSelector: map[string]string{"topology.kubernetes.io/region": "eu-west-1"}}
	require.NoError(t, testEnv.client.Create(ctx, region))
	t.Cleanup(func() {
		db := region.Spec.Database
		superExec(t, "", "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)")
		superExec(t, "", "DROP ROLE IF EXISTS "+pgx.Identifier{db.RuntimeRole}.Sanitize())
		superExec(t, "", "DROP ROLE IF EXISTS "+pgx.Identifier{db.OwnerRole}.Sanitize())
	})
	recorder := events.NewFakeRecorder(100)
	return &regionFixture{
		region:   region,
		adminNS:  adminNS,
		recorder: recorder,
		reconciler: &controllers.RegionReconciler{
			Client:       controllers.IndexedClient(t, testEnv.client),
			Recorder:     recorder,
			AppImage:     "rekomi:test",
			ResyncPeriod: time.Minute,
			Rand:         rand.Reader,
			// The admin Secret lives where the operator does.
			OperatorNamespace: adminNS,
		},
	}
}

// superExec runs a statement as the test server's superuser, on database
// (empty: the maintenance database).
func superExec(t testing.TB, database, sql string) {
	t.Helper()
	url := testEnv.adminURL
	if database != "" {
		url = dbtest.WithDatabase(t, url, database)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	require.NoError(t, err, sql)
}

func superQueryBool(t testing.TB, database, sql string, args ...any) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.WithDatabase(t, testEnv.adminURL, database))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v bool
	require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&v), sql)
	return v
}

// reconcile runs one pass and returns the Region as stored afterwards.
func (f *regionFixture) reconcile(t testing.TB) (*v1.Region, error) {
	t.Helper()
	ctx := context.Background()
	_, err := f.reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: f.region.Name}})
	got := &v1.Region{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(f.region), got))
	return got, err
}

// drainEvents returns the events recorded so far.
func (f *regionFixture) drainEvents() []string {
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

// markAppAvailable plays the Deployment controller, which envtest lacks.
func (f *regionFixture) markAppAvailable(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	dep := &appsv1.Deployment{}
	require.NoError(t, testEnv.client.Get(ctx, types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: f.region.Name + "-app"}, dep))
	dep.Status.Replicas, dep.Status.AvailableReplicas, dep.Status.ReadyReplicas = 2, 2, 2
	dep.Status.Conditions = []appsv1.DeploymentCondition{{
		Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
		Message: "Deployment has minimum availability.", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
	}}
	require.NoError(t, testEnv.client.Status().Update(ctx, dep))
}

func requireCondition(t testing.TB, region *v1.Region, typ v1.ConditionType, status metav1.ConditionStatus, reason v1.ConditionReason) *metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(region.Status.Conditions, string(typ))
	require.NotNil(t, c, "condition %s missing: %+v", typ, region.Status.Conditions)
	require.Equal(t, status, c.Status, "%s: %s", typ, c.Message)
	require.Equal(t, string(reason), c.Reason, "%s: %s", typ, c.Message)
	require.Equal(t, region.Generation, c.ObservedGeneration)
	return c
}

// provision reconciles a fresh Region to Ready.
func (f *regionFixture) provision(t testing.TB) *v1.Region {
	t.Helper()
	got, err := f.reconcile(t)
	require.NoError(t, err)
	requireCondition(t, got, v1.ConditionAppAvailable, metav1.ConditionFalse, v1.ReasonProgressing)
	requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
	f.markAppAvailable(t)
	got, err = f.reconcile(t)
	require.NoError(t, err)
	requireCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
	return got
}

func (f *regionFixture) secret(t testing.TB, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	require.NoError(t, testEnv.client.Get(context.Background(), types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: name}, s))
	return s
}

func TestRegionProvisionsDatabaseAndApp(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	got := f.provision(t)
	ctx := context.Background()
	latest, err := migrations.Latest()
	require.NoError(t, err)

	for _, typ := range []v1.ConditionType{v1.ConditionDatabaseReady, v1.ConditionRolesReady, v1.ConditionSchemaReady,
		v1.ConditionIsolationVerified, v1.ConditionAppAvailable} {
		requireCondition(t, got, typ, metav1.ConditionTrue, v1.ReasonReconciled)
	}
	require.Equal(t, int64(latest), got.Status.SchemaVersion)
	require.Contains(t, meta.FindStatusCondition(got.Status.Conditions, string(v1.ConditionSchemaReady)).Message, "schema version")
	tables := map[string]bool{}
	for _, p := range migrations.Policies() {
		tables[p.Table] = true
	}
	require.Greater(t, len(tables), 20)
	require.EqualValues(t, len(tables), got.Status.TenantTables, "every table the migrations put a policy on")
	require.Contains(t, meta.FindStatusCondition(got.Status.Conditions, string(v1.ConditionIsolationVerified)).Message,
		fmt.Sprintf("%d tenant tables, 0 violations", len(tables)))
	require.Equal(t, got.Generation, got.Status.ObservedGeneration)

	t.Run("CredentialSecretsConnectAsTheirRoles", func(t *testing.T) {
		db := got.Spec.Database
		for name, role := range map[string]string{
			controllers.OwnerSecretName(got.Name):   db.OwnerRole,
			controllers.RuntimeSecretName(got.Name): db.RuntimeRole,
		} {
			s := f.secret(t, name)
			require.Equal(t, corev1.SecretTypeBasicAuth, s.Type)
			require.Equal(t, role, string(s.Data[corev1.BasicAuthUsernameKey]))
			require.GreaterOrEqual(t, len(s.Data[corev1.BasicAuthPasswordKey]), 40)
			requireOwnedBy(t, s, got)
			require.Equal(t, "true", s.Labels[v1.WatchLabel], "the operator's cache holds it")
			conn, err := pgx.Connect(ctx, string(s.Data["url"]))
			require.NoError(t, err, "the Secret's url connects")
			var user string
			require.NoError(t, conn.QueryRow(ctx, "SELECT current_user").Scan(&user))
			require.Equal(t, role, user)
			require.NoError(t, conn.Close(ctx))
		}
		require.False(t, superQueryBool(t, db.Name,
			"SELECT rolsuper OR rolbypassrls OR rolinherit OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = $1", db.RuntimeRole))
		require.True(t, superQueryBool(t, db.Name,
			"SELECT bool_and(relrowsecurity AND relforcerowsecurity) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname <> 'schema_migrations' AND relkind = 'r'"))
	})

	t.Run("KeyRingSecretParses", func(t *testing.T) {
		s := f.secret(t, controllers.KeyRingSecretName(got.Name))
		ring, err := keyring.Parse(s.Data[keyring.SecretKey])
		require.NoError(t, err)
		made, ok := ring.PrimaryCreated()
		require.True(t, ok, "the ring records when its key was made, which /trust states")
		require.WithinDuration(t, time.Now(), made, 5*time.Minute)
		requireOwnedBy(t, s, got)
		require.Equal(t, "true", s.Labels[v1.WatchLabel], "the operator's cache holds it")
	})

	t.Run("AppObjectsAreOwnedAndHardened", func(t *testing.T) {
		key := types.NamespacedName{Namespace: got.Spec.Namespace, Name: got.Name + "-app"}
		dep := &appsv1.Deployment{}
		require.NoError(t, testEnv.client.Get(ctx, key, dep))
		requireOwnedBy(t, dep, got)
		pod := dep.Spec.Template.Spec
		require.Equal(t, "rekomi:test", pod.Containers[0].Image)
		require.Equal(t, []string{"app"}, pod.Containers[0].Args)
		require.Equal(t, "eu-west-1", pod.NodeSelector["topology.kubernetes.io/region"])
		require.True(t, *pod.SecurityContext.RunAsNonRoot)
		require.True(t, *pod.Containers[0].SecurityContext.ReadOnlyRootFilesystem)
		require.NotNil(t, pod.Containers[0].ReadinessProbe)
		require.Equal(t, "0", dep.Spec.Strategy.RollingUpdate.MaxUnavailable.String(), "a rollout never serves with fewer replicas")
		require.Equal(t, controllers.RuntimeSecretName(got.Name), pod.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name)
		for _, obj := range []client.Object{&corev1.Service{}, &corev1.ServiceAccount{}, &policyv1.PodDisruptionBudget{}} {
			require.NoError(t, testEnv.client.Get(ctx, key, obj))
			requireOwnedBy(t, obj, got)
		}
	})

	t.Run("MetricsStayOffTheService", func(t *testing.T) {
		key := types.NamespacedName{Namespace: got.Spec.Namespace, Name: got.Name + "-app"}
		dep := &appsv1.Deployment{}
		require.NoError(t, testEnv.client.Get(ctx, key, dep))
		var ports []string
		for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.ContainerPort))
		}
		require.Equal(t, []string{"http:8080", "metrics:9090"}, ports, "9090 is the app's default metrics address")
		svc := &corev1.Service{}
		require.NoError(t, testEnv.client.Get(ctx, key, svc))
		require.Len(t, svc.Spec.Ports, 1)
		require.Equal(t, "http", svc.Spec.Ports[0].TargetPort.String(), "the Service exposes the public port only")
	})
}

func requireOwnedBy(t *testing.T, obj client.Object, region *v1.Region) {
	t.Helper()
	refs := obj.GetOwnerReferences()
	require.Len(t, refs, 1, "%s/%s", obj.GetNamespace(), obj.GetName())
	require.Equal(t, region.UID, refs[0].UID)
	require.True(t, *refs[0].Controller)
}

func TestRegionSecondReconcileChangesNothing(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	got := f.provision(t)
	f.drainEvents()
	before := f.snapshot(t, got)
	again, err := f.reconcile(t)
	require.NoError(t, err)
	require.Equal(t, got.ResourceVersion, again.ResourceVersion, "no status patch")
	require.Equal(t, before, f.snapshot(t, got), "no Secret, app object or catalog change")
	require.Empty(t, f.drainEvents())
}

// snapshot is the resource versions of the Region's objects and the xmin of
// its roles and tables: any write to one of them changes it.
func (f *regionFixture) snapshot(t *testing.T, region *v1.Region) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	ns := region.Spec.Namespace
	for _, name := range []string{controllers.OwnerSecretName(region.Name), controllers.RuntimeSecretName(region.Name),
		controllers.KeyRingSecretName(region.Name)} {
		out["secret/"+name] = f.secret(t, name).ResourceVersion
	}
	for kind, obj := range map[string]client.Object{"deployment": &appsv1.Deployment{}, "service": &corev1.Service{},
		"sa": &corev1.ServiceAccount{}, "pdb": &policyv1.PodDisruptionBudget{}} {
		require.NoError(t, testEnv.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: region.Name + "-app"}, obj))
		out[kind] = obj.GetResourceVersion()
	}
	conn, err := pgx.Connect(ctx, dbtest.WithDatabase(t, testEnv.adminURL, region.Spec.Database.Name))
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT 'role ' || rolname || ' ' || xmin::text FROM pg_authid WHERE rolname IN ($1, $2)
		UNION ALL SELECT 'database ' || datname || ' ' || xmin::text FROM pg_database WHERE datname = current_database()
		UNION ALL SELECT 'class ' || relname || ' ' || xmin::text FROM pg_class WHERE relnamespace = 'public'::regnamespace
		UNION ALL SELECT 'namespace ' || xmin::text FROM pg_namespace WHERE nspname = 'public'
		UNION ALL SELECT 'version ' || version || ' ' || dirty FROM schema_migrations`,
		region.Spec.Database.OwnerRole, region.Spec.Database.RuntimeRole)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out["catalog"] = strings.Join(lines, "\n")
	return out
}

func TestRegionRepairsDrift(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		drift     func(t *testing.T, region *v1.Region)
		violation string
		repaired  string // a query that is true once repaired
	}{
		"runtime role altered to BYPASSRLS": {
			drift: func(t *testing.T, r *v1.Region) {
				superExec(t, "", "ALTER ROLE "+pgx.Identifier{r.Spec.Database.RuntimeRole}.Sanitize()+" BYPASSRLS")
			},
			violation: "BYPASSRLS",
			repaired:  "SELECT NOT rolbypassrls FROM pg_roles WHERE rolname = $1",
		},
		"campaigns without forced row-level security": {
			drift: func(t *testing.T, r *v1.Region) {
				superExec(t, r.Spec.Database.Name, "ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY")
			},
			violation: "campaigns",
			repaired:  "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'campaigns' AND $1::text IS NOT NULL",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newRegionFixture(t, testEnv.adminURL)
			f.provision(t)
			f.drainEvents()
			tc.drift(t, f.region)

			got, err := f.reconcile(t)
			require.NoError(t, err)
			evs := strings.Join(f.drainEvents(), "\n")
			require.Contains(t, evs, "Warning IsolationViolated", "the drift is reported")
			require.Contains(t, evs, tc.violation)
			require.Contains(t, evs, "Normal Reconciled", "and its repair")
			requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
			require.True(t, superQueryBool(t, f.region.Spec.Database.Name, tc.repaired, f.region.Spec.Database.RuntimeRole))
		})
	}
}

func TestRegionRecreatesDeletedSecret(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	got := f.provision(t)
	ctx := context.Background()
	name := controllers.RuntimeSecretName(got.Name)
	old := f.secret(t, name)
	podsBefore := f.appPodTemplate(t)
	require.NoError(t, testEnv.client.Delete(ctx, old))

	_, err := f.reconcile(t)
	require.NoError(t, err)
	fresh := f.secret(t, name)
	require.NotEqual(t, old.Data["password"], fresh.Data["password"])
	podsAfter := f.appPodTemplate(t)
	require.NotEmpty(t, podsBefore.Annotations["rekomi.io/database-password-sha256"])
	require.NotEqual(t, podsBefore.Annotations["rekomi.io/database-password-sha256"], podsAfter.Annotations["rekomi.io/database-password-sha256"],
		"the app's pods, which read DATABASE_URL at start, roll onto the new password")
	conn, err := pgx.Connect(ctx, string(fresh.Data["url"]))
	require.NoError(t, err, "the role's password was set to the new Secret's")
	require.NoError(t, conn.Close(ctx))
	_, err = pgx.Connect(ctx, string(old.Data["url"]))
	require.Error(t, err, "the old password no longer works")
}

// appPodTemplate is the pod template of the fixture Region's app Deployment.
func (f *regionFixture) appPodTemplate(t *testing.T) corev1.PodTemplateSpec {
	t.Helper()
	dep := &appsv1.Deployment{}
	key := types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: f.region.Name + "-app"}
	require.NoError(t, testEnv.client.Get(context.Background(), key, dep))
	return dep.Spec.Template
}

func TestRegionReportsDatabaseFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("MissingAdminSecretThenCreated", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, testEnv.adminURL)
		require.NoError(t, testEnv.client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.adminNS, Name: "postgres-admin"}}))
		got, err := f.reconcile(t)
		require.NoError(t, err, "a missing Secret is a wait, not an error")
		c := requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionFalse, v1.ReasonAdminSecretNotFound)
		require.Contains(t, c.Message, f.adminNS+"/postgres-admin")
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning AdminSecretNotFound")

		require.NoError(t, testEnv.client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.adminNS, Name: "postgres-admin"},
			StringData: map[string]string{"url": testEnv.adminURL},
		}))
		got, err = f.reconcile(t)
		require.NoError(t, err)
		requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionTrue, v1.ReasonReconciled)
	})

	t.Run("InvalidAdminURL", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, "host=127.0.0.1 port=notaport password=hunter2-secret")
		got, err := f.reconcile(t)
		require.NoError(t, err)
		c := requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionFalse, v1.ReasonAdminSecretInvalid)
		require.NotContains(t, c.Message, "hunter2-secret")
	})

	t.Run("UnreachableThenRecovered", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, "postgres://postgres:hunter2-secret@127.0.0.1:1/postgres?connect_timeout=2&sslmode=disable")
		got, err := f.reconcile(t)
		require.Error(t, err, "an unreachable server backs off")
		c := requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionFalse, v1.ReasonDatabaseUnreachable)
		require.Contains(t, c.Message, "cannot connect")
		require.NotContains(t, c.Message, "hunter2-secret")

		secret := &corev1.Secret{}
		require.NoError(t, testEnv.client.Get(ctx, types.NamespacedName{Namespace: f.adminNS, Name: "postgres-admin"}, secret))
		secret.Data = map[string][]byte{"url": []byte(testEnv.adminURL)}
		require.NoError(t, testEnv.client.Update(ctx, secret))
		got, err = f.reconcile(t)
		require.NoError(t, err)
		requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionTrue, v1.ReasonReconciled)
		requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionTrue, v1.ReasonReconciled)
		// The credential Secrets were made while the server was down; their
		// URLs follow the admin URL now.
		s := f.secret(t, controllers.RuntimeSecretName(got.Name))
		conn, err := pgx.Connect(ctx, string(s.Data["url"]))
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
	})
}

func TestRegionRecoversFromDatabaseOutage(t *testing.T) {
	t.Parallel()
	f := newRegionFixture(t, testEnv.adminURL)
	f.provision(t)
	db := pgx.Identifier{f.region.Spec.Database.Name}.Sanitize()
	superExec(t, "", "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false")
	superExec(t, "", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+f.region.Spec.Database.Name+"'")
	t.Cleanup(func() { superExec(t, "", "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true") })

	got, err := f.reconcile(t)
	require.Error(t, err, "an outage backs off")
	c := requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionFalse, v1.ReasonDatabaseUnreachable)
	require.Contains(t, c.Message, "cannot connect")
	requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
	requireCondition(t, got, v1.ConditionIsolationVerified, metav1.ConditionUnknown, v1.ReasonDependencyNotReady)
	requireCondition(t, got, v1.ConditionSchemaReady, metav1.ConditionUnknown, v1.ReasonDependencyNotReady)
	require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning DatabaseUnreachable")

	superExec(t, "", "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true")
	got, err = f.reconcile(t)
	require.NoError(t, err)
	requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionTrue, v1.ReasonReconciled)
	requireCondition(t, got, v1.ConditionReady, metav1.ConditionTrue, v1.ReasonReconciled)
}

// TestRegionAdminSecretNamespace is a Region whose admin Secret is named in
// a namespace that is neither the operator's nor the Region's own: whoever
// may create Regions would have the operator read, and connect with, any
// Secret of the cluster. The controller refuses it before reading it (the
// API server refuses it first where config/admission is installed).
func TestRegionAdminSecretNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("AnyOtherNamespaceIsRefused", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, testEnv.adminURL)
		elsewhere := newNamespace(t)
		require.NoError(t, testEnv.client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: elsewhere, Name: "someone-elses-database"},
			StringData: map[string]string{"url": testEnv.adminURL},
		}))
		f.setAdminSecretRef(t, v1.SecretKeyReference{Namespace: elsewhere, Name: "someone-elses-database", Key: "url"})

		got, err := f.reconcile(t)
		require.NoError(t, err, "a Secret out of bounds is reported, not retried")
		c := requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionFalse, v1.ReasonAdminSecretNotAllowed)
		require.Contains(t, c.Message, elsewhere)
		require.Contains(t, c.Message, f.adminNS)
		require.Contains(t, c.Message, got.Spec.Namespace)
		requireCondition(t, got, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonDependencyNotReady)
		require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning AdminSecretNotAllowed")
		require.False(t, superQueryBool(t, "postgres", "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", got.Spec.Database.Name),
			"the database was created through a Secret out of bounds")
		err = testEnv.client.Get(ctx, types.NamespacedName{Namespace: got.Spec.Namespace, Name: controllers.OwnerSecretName(got.Name)}, &corev1.Secret{})
		require.True(t, apierrors.IsNotFound(err), "credentials were derived from a Secret out of bounds: %v", err)
	})

	t.Run("TheRegionsOwnNamespaceIsUsed", func(t *testing.T) {
		t.Parallel()
		f := newRegionFixture(t, testEnv.adminURL)
		require.NoError(t, testEnv.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.region.Spec.Namespace}}))
		require.NoError(t, testEnv.client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace, Name: "postgres-admin"},
			StringData: map[string]string{"url": testEnv.adminURL},
		}))
		f.setAdminSecretRef(t, v1.SecretKeyReference{Namespace: f.region.Spec.Namespace, Name: "postgres-admin", Key: "url"})
		got, err := f.reconcile(t)
		require.NoError(t, err)
		requireCondition(t, got, v1.ConditionDatabaseReady, metav1.ConditionTrue, v1.ReasonReconciled)
	})
}

// setAdminSecretRef points the fixture's Region at another admin Secret.
func (f *regionFixture) setAdminSecretRef(t *testing.T, ref v1.SecretKeyReference) {
	t.Helper()
	ctx := context.Background()
	region := &v1.Region{}
	require.NoError(t, testEnv.client.Get(ctx, client.ObjectKeyFromObject(f.region), region))
	region.Spec.Database.AdminSecretRef = ref
	require.NoError(t, testEnv.client.Update(ctx, region))
	f.region = region
}

// TestRegionLabelsItsEarlierSecrets is an install upgraded from a version
// whose Secrets did not carry the watch label: the Region labels its
// credential and key ring Secrets, so that the cache, which holds only
// labelled Secrets, sees them again, and keeps their content.
func TestRegionLabelsItsEarlierSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newRegionFixture(t, testEnv.adminURL)
	got := f.provision(t)
	names := []string{controllers.OwnerSecretName(got.Name), controllers.RuntimeSecretName(got.Name), controllers.KeyRingSecretName(got.Name)}
	before := map[string]map[string][]byte{}
	for _, name := range names {
		s := f.secret(t, name)
		delete(s.Labels, v1.WatchLabel)
		require.NoError(t, testEnv.client.Update(ctx, s))
		before[name] = s.Data
	}
	_, err := f.reconcile(t)
	require.NoError(t, err)
	for _, name := range names {
		s := f.secret(t, name)
		require.Equal(t, "true", s.Labels[v1.WatchLabel], name)
		require.Equal(t, got.Name, s.Labels["rekomi.io/region"], name)
		require.Equal(t, before[name], s.Data, name)
	}
}
