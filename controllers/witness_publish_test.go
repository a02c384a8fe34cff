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
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/controllers"
)

// witnessFixture is an organization fixture whose reconciler witnesses
// audit chains with the key the Region hands its app, and the publisher of
// the Region's witness shards.
type witnessFixture struct {
	*orgFixture
	publisher *controllers.WitnessPublishReconciler
	pub       ed25519.PublicKey
}

func newWitnessFixture(t *testing.T) *witnessFixture {
	t.Helper()
	f := newOrgFixture(t)
	f.reconciler.OperatorNamespace = f.rf.reconciler.OperatorNamespace
	secret := &corev1.Secret{}
	require.NoError(t, testEnv.client.Get(context.Background(),
		types.NamespacedName{Namespace: f.rf.reconciler.OperatorNamespace, Name: controllers.WitnessSecretName}, secret),
		"the Region made the witness key to hand its public half to the app")
	return &witnessFixture{orgFixture: f, publisher: &controllers.WitnessPublishReconciler{Client: controllers.IndexedClient(t, testEnv.client)},
		pub: ed25519.PublicKey(secret.Data[controllers.WitnessPublicKeyKey])}
}

func (f *witnessFixture) publish(t *testing.T) {
	t.Helper()
	_, err := f.publisher.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: f.region.Name}})
	require.NoError(t, err)
}

// shard reads the shard that holds id, nil when it does not exist.
func (f *witnessFixture) shard(t *testing.T, id uuid.UUID) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	name := controllers.WitnessShardName(f.region.Name, int(id[0]>>4))
	err := testEnv.client.Get(context.Background(), types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return cm
}

// shards lists the Region's witness shards by name.
func (f *witnessFixture) shards(t *testing.T) []string {
	t.Helper()
	var list corev1.ConfigMapList
	require.NoError(t, testEnv.client.List(context.Background(), &list, client.InNamespace(f.region.Spec.Namespace),
		client.MatchingLabels{controllers.WitnessShardLabel: "true"}))
	var names []string
	for _, cm := range list.Items {
		names = append(names, cm.Name)
	}
	return names
}

// published is org's witness as its shard holds it, its signature checked
// with the key of the witness Secret.
func (f *witnessFixture) published(t *testing.T, org *v1.Organization) audit.Witness {
	t.Helper()
	id := uuid.MustParse(org.Status.ID)
	cm := f.shard(t, id)
	require.NotNil(t, cm, "the shard of %s exists", id)
	raw, ok := cm.Data[id.String()]
	require.True(t, ok, "the shard holds organization %s", id)
	var w audit.Witness
	require.NoError(t, json.Unmarshal([]byte(raw), &w))
	require.NoError(t, w.Verify(f.pub), "the published witness verifies with the witness Secret's public key")
	require.Equal(t, id, w.OrgID)
	require.Equal(t, controllers.WitnessFromStatus(id, org.Status.Audit).Checkpoints, w.Checkpoints)
	return w
}

func TestWitnessPublishedToTheRegion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newWitnessFixture(t)
	conn := f.conn(t)
	a := f.provision(t, f.newOrg(t))
	b := f.provision(t, f.newOrg(t))
	idA, idB := uuid.MustParse(a.Status.ID), uuid.MustParse(b.Status.ID)
	require.NotNil(t, a.Status.Audit, "the organization is witnessed")

	t.Run("EachLiveOrganizationInItsShard", func(t *testing.T) {
		f.publish(t)
		require.Len(t, f.published(t, a).Checkpoints, 1)
		require.Len(t, f.published(t, b).Checkpoints, 1)
		cm := f.shard(t, idA)
		require.True(t, metav1.IsControlledBy(cm, f.region), "owned by the Region, for garbage collection")
		require.Equal(t, "true", cm.Labels[controllers.WitnessShardLabel])
		require.Equal(t, f.region.Name, cm.Labels["rekomi.io/region"])
		want := map[string]bool{controllers.WitnessShardName(f.region.Name, int(idA[0]>>4)): true,
			controllers.WitnessShardName(f.region.Name, int(idB[0]>>4)): true}
		require.Len(t, f.shards(t), len(want), "only non-empty shards exist")
		for _, name := range f.shards(t) {
			require.True(t, want[name], name)
		}
	})

	t.Run("FollowsTheChainAndWritesOnlyChanges", func(t *testing.T) {
		before := f.shard(t, idA).ResourceVersion
		f.publish(t)
		require.Equal(t, before, f.shard(t, idA).ResourceVersion, "nothing changed, nothing written")

		_, err := audit.Append(ctx, conn, idA, audit.Entry{ActorType: audit.ActorMember, ActorID: "m", Action: "campaign.created",
			TargetType: "campaign", TargetID: "c1"})
		require.NoError(t, err)
		a, _ = f.reconcile(t, a)
		f.publish(t)
		require.Len(t, f.published(t, a).Checkpoints, 2, "the new head is published")
	})

	t.Run("TheAppMountsTheShardsWithTheKey", func(t *testing.T) {
		dep := &appsv1.Deployment{}
		require.NoError(t, testEnv.client.Get(ctx, types.NamespacedName{Namespace: f.region.Spec.Namespace, Name: f.region.Name + "-app"}, dep))
		key, ok := appEnv(t, dep, "REKOMI_AUDIT_WITNESS_PUBLIC_KEY")
		require.True(t, ok)
		require.Equal(t, base64.StdEncoding.EncodeToString(f.pub), key)
		dir, ok := appEnv(t, dep, "REKOMI_AUDIT_WITNESS_DIR")
		require.True(t, ok)
		var mounted bool
		for _, m := range dep.Spec.Template.Spec.Containers[0].VolumeMounts {
			if m.Name == "audit-witness" {
				mounted = true
				require.Equal(t, dir, m.MountPath)
				require.True(t, m.ReadOnly)
			}
		}
		require.True(t, mounted)
		var vol *corev1.Volume
		for i, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name == "audit-witness" {
				vol = &dep.Spec.Template.Spec.Volumes[i]
			}
		}
		require.NotNil(t, vol)
		require.NotNil(t, vol.Projected)
		require.Len(t, vol.Projected.Sources, 16)
		for i, s := range vol.Projected.Sources {
			require.Equal(t, fmt.Sprintf("%s-audit-witness-%x", f.region.Name, i), s.ConfigMap.Name)
			require.True(t, *s.ConfigMap.Optional, "a shard exists only while it holds a witness")
		}
	})

	t.Run("PurgedAndDeletedOrganizationsLeave", func(t *testing.T) {
		f.update(t, a, func(o *v1.Organization) { o.Annotations = map[string]string{controllers.PurgeNowAnnotation: "true"} })
		a, _ = f.reconcile(t, a)
		requireOrgCondition(t, a, v1.ConditionPurged, metav1.ConditionTrue, v1.ReasonPurged)
		f.publish(t)
		if cm := f.shard(t, idA); cm != nil {
			require.NotContains(t, cm.Data, idA.String(), "a purged organization's witness leaves its shard")
			require.Equal(t, idA[0]>>4, idB[0]>>4, "a shard left empty is deleted")
		}
		f.published(t, b)

		f.update(t, b, func(o *v1.Organization) { o.Annotations = map[string]string{controllers.PurgeNowAnnotation: "true"} })
		require.NoError(t, testEnv.client.Delete(ctx, b))
		got, _ := f.reconcile(t, b)
		require.Nil(t, got)
		f.publish(t)
		require.Empty(t, f.shards(t), "no organization is left, so no shard")
	})
}

// TestWitnessPublisherFollowsOrganizationsAndShards runs the publisher in a
// manager: only the watches can bring it to a new witness in an
// Organization's status, or to a shard changed or deleted by someone else,
// which it puts back.
func TestWitnessPublisherFollowsOrganizationsAndShards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newWitnessFixture(t)
	conn := f.conn(t)
	org := f.provision(t, f.newOrg(t))
	id := uuid.MustParse(org.Status.ID)
	mgr := newScopedManager(t, []string{f.region.Spec.Namespace}, &v1.Region{}, f.region.Name)
	require.NoError(t, (&controllers.WitnessPublishReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr))
	runManager(t, mgr)

	// holds waits until org's shard holds exactly its current witness.
	holds := func(org *v1.Organization, why string) {
		t.Helper()
		want, err := json.Marshal(controllers.WitnessFromStatus(id, org.Status.Audit))
		require.NoError(t, err)
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			cm := f.shard(t, id)
			require.NotNil(c, cm)
			require.Equal(c, map[string]string{id.String(): string(want)}, cm.Data)
		}, 15*time.Second, 50*time.Millisecond, why)
	}
	holds(org, "published once the publisher starts")

	_, err := audit.Append(ctx, conn, id, audit.Entry{ActorType: audit.ActorMember, ActorID: "m", Action: "campaign.created",
		TargetType: "campaign", TargetID: "c1"})
	require.NoError(t, err)
	org, _ = f.reconcile(t, org)
	require.Len(t, org.Status.Audit.Checkpoints, 2)
	holds(org, "a new witness in the Organization's status is published")

	cm := f.shard(t, id)
	cm.Data = map[string]string{id.String(): `{"orgID":"` + id.String() + `"}`, uuid.NewString(): "planted"}
	require.NoError(t, testEnv.client.Update(ctx, cm))
	holds(org, "a changed shard is written back")

	require.NoError(t, testEnv.client.Delete(ctx, f.shard(t, id)))
	holds(org, "a deleted shard is made again")
}

// TestWitnessShardFailureHoldsBackNoOther puts a ConfigMap the Region does
// not own in shard 0's place: the publisher reports it, and still writes
// the shards after it.
func TestWitnessShardFailureHoldsBackNoOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newWitnessFixture(t)
	org := f.provision(t, f.newOrg(t))
	for uuid.MustParse(org.Status.ID)[0]>>4 == 0 {
		org = f.provision(t, f.newOrg(t))
	}
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.region.Spec.Namespace,
		Name:   controllers.WitnessShardName(f.region.Name, 0),
		Labels: map[string]string{controllers.WitnessShardLabel: "true", "rekomi.io/region": f.region.Name}}}
	require.NoError(t, testEnv.client.Create(ctx, foreign))

	_, err := f.publisher.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: f.region.Name}})
	require.ErrorContains(t, err, "is not region "+f.region.Name+"'s")
	f.published(t, org)
}

// TestWitnessPublisherWaitsItsInterval publishes a Region's shards, then
// changes a witness at once: with an Interval, the publisher leaves the
// shard as it was and asks to come back when the interval has passed.
func TestWitnessPublisherWaitsItsInterval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newWitnessFixture(t)
	f.publisher.Interval = time.Hour
	org := f.provision(t, f.newOrg(t))
	id := uuid.MustParse(org.Status.ID)
	req := ctrl.Request{NamespacedName: types.NamespacedName{Name: f.region.Name}}

	res, err := f.publisher.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Zero(t, res.RequeueAfter, "the first publication does not wait")
	first := f.published(t, org)

	_, err = audit.Append(ctx, f.conn(t), id, audit.Entry{ActorType: audit.ActorMember, ActorID: "m", Action: "campaign.created",
		TargetType: "campaign", TargetID: "c1"})
	require.NoError(t, err)
	org, _ = f.reconcile(t, org)
	require.Len(t, org.Status.Audit.Checkpoints, 2, "the organization witnessed its new head")

	res, err = f.publisher.Reconcile(ctx, req)
	require.NoError(t, err)
	require.Greater(t, res.RequeueAfter, 59*time.Minute, "it comes back once the interval has passed")
	var w audit.Witness
	require.NoError(t, json.Unmarshal([]byte(f.shard(t, id).Data[id.String()]), &w))
	require.Equal(t, first.Checkpoints, w.Checkpoints, "nothing is published within the interval")
}
