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
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// The app cannot read the Kubernetes API, so the operator hands it each
// organization's signed audit witness (status.audit) through ConfigMaps in
// the Region's namespace, which the app's pods mount: 16 shards by the
// first hex digit of the organization's UUID, each a map from UUID to the
// JSON of the witness. One reconcile per Region writes them all, so no two
// writers race on a shard.

// WitnessShardLabel, set to "true", marks the ConfigMaps that hold audit
// witnesses; the manager's cache holds no other ConfigMap.
const WitnessShardLabel = "rekomi.io/audit-witness"

// witnessShardCount is the number of shards: one per hex digit.
const witnessShardCount = 16

// WitnessShardName is the ConfigMap of region's shard (0 to 15): the
// organizations whose UUID starts with that hex digit.
func WitnessShardName(region string, shard int) string {
	return region + "-audit-witness-" + strconv.FormatInt(int64(shard), 16)
}

// witnessShardOf is the shard of an organization.
func witnessShardOf(id uuid.UUID) int { return int(id[0] >> 4) }

// witnessFieldOwner is the server-side apply manager of the shards.
const witnessFieldOwner = client.FieldOwner("rekomi-audit-witness")

// WitnessPublishReconciler writes, per Region, the shard ConfigMaps of the
// audit witnesses of the Region's live organizations.
type WitnessPublishReconciler struct {
	// Client reads through the manager's cache, whose spec.region index
	// (registered by SetupWithManager) finds a Region's organizations.
	Client client.Client
	// Interval is the least time between two publications of one Region's
	// shards: its organizations' witnesses that change meanwhile are
	// published together, so a thousand organizations witnessed within a
	// few seconds cost a few publications, not a thousand. Zero publishes
	// at every change.
	Interval time.Duration

	mu        sync.Mutex
	published map[string]time.Time // by Region name
}

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rekomi.io,resources=regions,verbs=get;list;watch
// +kubebuilder:rbac:groups=rekomi.io,resources=organizations,verbs=get;list;watch

// Reconcile brings one Region's shards in line with its organizations'
// witnesses: written when they differ, deleted when empty.
func (r *WitnessPublishReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	region := &rekomiv1.Region{}
	if err := r.Client.Get(ctx, req.NamespacedName, region); err != nil {
		// A deleted Region's shards go with it: they are owned by it.
		r.forget(req.Name)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if wait := r.untilDue(region.Name); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	var orgs rekomiv1.OrganizationList
	if err := r.Client.List(ctx, &orgs, client.MatchingFields{organizationRegionIndex: region.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing organizations for the audit witnesses of region %s: %w", region.Name, err)
	}
	want, err := witnessShards(region.Name, orgs.Items)
	if err != nil {
		return ctrl.Result{}, err
	}
	var have corev1.ConfigMapList
	if err := r.Client.List(ctx, &have, client.InNamespace(region.Spec.Namespace),
		client.MatchingLabels(witnessShardLabels(region.Name))); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the audit witness shards of region %s: %w", region.Name, err)
	}
	existing := make(map[string]*corev1.ConfigMap, len(have.Items))
	for i := range have.Items {
		existing[have.Items[i].Name] = &have.Items[i]
	}
	// A shard that cannot be written (one past the API server's size limit,
	// say) does not hold back the others.
	var errs []error
	for shard, data := range want {
		errs = append(errs, r.syncShard(ctx, region, existing[WitnessShardName(region.Name, shard)], shard, data))
	}
	if err := errors.Join(errs...); err != nil {
		return ctrl.Result{}, err
	}
	r.markPublished(region.Name)
	return ctrl.Result{}, nil
}

// untilDue is how long region's next publication must wait for Interval
// to pass since its last one.
func (r *WitnessPublishReconciler) untilDue(region string) time.Duration {
	if r.Interval <= 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.published[region]
	if !ok {
		return 0
	}
	return time.Until(last.Add(r.Interval))
}

func (r *WitnessPublishReconciler) markPublished(region string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.published == nil {
		r.published = map[string]time.Time{}
	}
	r.published[region] = time.Now()
}

func (r *WitnessPublishReconciler) forget(region string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.published, region)
}

// syncShard makes shard hold data: created or updated when it differs,
// deleted when data is empty. cm is the shard as cached, nil when absent.
func (r *WitnessPublishReconciler) syncShard(ctx context.Context, region *rekomiv1.Region, cm *corev1.ConfigMap, shard int, data map[string]string) error {
	name := WitnessShardName(region.Name, shard)
	if cm != nil && !metav1.IsControlledBy(cm, region) {
		return fmt.Errorf("ConfigMap %s/%s carries the audit witness label but is not region %s's", region.Spec.Namespace, name, region.Name)
	}
	switch {
	case len(data) == 0 && cm == nil:
		return nil
	case len(data) == 0:
		if err := r.Client.Delete(ctx, cm, client.Preconditions{UID: &cm.UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting the empty audit witness shard %s/%s: %w", cm.Namespace, name, err)
		}
		return nil
	case cm == nil:
		return r.createShard(ctx, region, name, data)
	case maps.Equal(cm.Data, data) && len(cm.BinaryData) == 0:
		return nil
	}
	updated := cm.DeepCopy()
	updated.Data, updated.BinaryData = data, nil
	if err := r.Client.Update(ctx, updated); err != nil {
		return fmt.Errorf("updating the audit witness shard %s/%s: %w", cm.Namespace, name, err)
	}
	return nil
}

// createShard creates a shard. One that exists without the label is out of
// the cache: applying it takes its labels, owner and witnesses back, and
// its next change brings it into the cache again.
func (r *WitnessPublishReconciler) createShard(ctx context.Context, region *rekomiv1.Region, name string, data map[string]string) error {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: region.Spec.Namespace, Name: name, Labels: witnessShardLabels(region.Name)},
		Data:       data,
	}
	if err := controllerutil.SetControllerReference(region, cm, r.Client.Scheme()); err != nil {
		return err
	}
	err := r.Client.Create(ctx, cm)
	if apierrors.IsAlreadyExists(err) {
		err = r.applyShard(ctx, cm)
	}
	if err != nil {
		return fmt.Errorf("creating the audit witness shard %s/%s: %w", cm.Namespace, name, err)
	}
	return nil
}

func (r *WitnessPublishReconciler) applyShard(ctx context.Context, cm *corev1.ConfigMap) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), witnessFieldOwner, client.ForceOwnership)
}

func witnessShardLabels(region string) map[string]string {
	return map[string]string{WitnessShardLabel: "true", regionLabel: region}
}

// witnessShards is what each shard of region should hold: the JSON of the
// witness of each of its live organizations, keyed by UUID.
func witnessShards(region string, orgs []rekomiv1.Organization) ([witnessShardCount]map[string]string, error) {
	var shards [witnessShardCount]map[string]string
	for i := range orgs {
		org := &orgs[i]
		id, ok := publishedWitnessOf(org, region)
		if !ok {
			continue
		}
		data, err := json.Marshal(WitnessFromStatus(id, org.Status.Audit))
		if err != nil {
			return shards, fmt.Errorf("encoding the audit witness of organization %s: %w", org.Name, err)
		}
		s := witnessShardOf(id)
		if shards[s] == nil {
			shards[s] = map[string]string{}
		}
		shards[s][id.String()] = string(data)
	}
	return shards, nil
}

// publishedWitnessOf says whether org's witness is published in region's
// shards, and under which UUID: an organization of the Region, not purged,
// whose chain has been witnessed.
func publishedWitnessOf(org *rekomiv1.Organization, region string) (uuid.UUID, bool) {
	if org.Spec.Region != region || org.Status.Audit == nil || len(org.Status.Audit.Checkpoints) == 0 {
		return uuid.Nil, false
	}
	if meta.IsStatusConditionTrue(org.Status.Conditions, string(rekomiv1.ConditionPurged)) {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(org.Status.ID)
	return id, err == nil
}

// SetupWithManager registers the controller: Regions, the shards they own,
// and Organizations, mapped to their Region when what is published of them
// may have changed.
func (r *WitnessPublishReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexOrganizationsByRegion(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&rekomiv1.Region{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&corev1.ConfigMap{}).
		Watches(&rekomiv1.Organization{}, handler.EnqueueRequestsFromMapFunc(regionOfOrganization),
			builder.WithPredicates(witnessChanged)).
		Named("auditwitness").
		Complete(r)
}

// regionOfOrganization maps an Organization to its Region.
func regionOfOrganization(_ context.Context, obj client.Object) []reconcile.Request {
	org, ok := obj.(*rekomiv1.Organization)
	if !ok || org.Spec.Region == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: org.Spec.Region}}}
}

// witnessChanged passes an Organization's creation and deletion, and an
// update that may change what is published of it.
var witnessChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*rekomiv1.Organization)
		cur, okNew := e.ObjectNew.(*rekomiv1.Organization)
		if !okOld || !okNew {
			return true
		}
		oldID, oldOK := publishedWitnessOf(old, old.Spec.Region)
		newID, newOK := publishedWitnessOf(cur, cur.Spec.Region)
		return oldOK != newOK || oldID != newID || old.Spec.Region != cur.Spec.Region ||
			!equalWitness(old.Status.Audit, cur.Status.Audit)
	},
}

func equalWitness(a, b *rekomiv1.AuditWitness) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}

// LimitConfigMapAccess returns opts with the manager's cache of ConfigMaps
// cut to the audit witness shards: no other ConfigMap of the cluster is
// held in memory or watched.
func LimitConfigMapAccess(opts ctrl.Options) ctrl.Options {
	byObject := make(map[client.Object]cache.ByObject, len(opts.Cache.ByObject)+1)
	maps.Copy(byObject, opts.Cache.ByObject)
	byObject[&corev1.ConfigMap{}] = cache.ByObject{Label: labels.SelectorFromSet(labels.Set{WitnessShardLabel: "true"})}
	opts.Cache.ByObject = byObject
	return opts
}
