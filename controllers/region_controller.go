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
	"errors"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// RegionReconciler provisions a Region: its database and roles, schema,
// isolation check and key ring, and the app that serves it.
type RegionReconciler struct {
	// Client reads through the manager's cache, whose indexes (registered
	// by SetupWithManager) find a Secret's Regions and a Region's
	// organizations.
	Client   client.Client
	Recorder events.EventRecorder
	// AppImage runs the app when spec.app.image is empty: the manager's own.
	AppImage string
	// ResyncPeriod is how often a Ready Region is checked again for drift.
	ResyncPeriod time.Duration
	// Rand supplies passwords and key ring keys (crypto/rand.Reader).
	Rand io.Reader
	// DriftInterval is how often a Region's catalog is compared with what
	// its last reconcile verified (DefaultDriftInterval when zero); DDL is
	// noticed at once through the event trigger.
	DriftInterval time.Duration

	drift *driftWatch
	// OperatorNamespace is the namespace the manager runs in: besides its
	// own namespace, the only one a Region's admin Secret may live in.
	OperatorNamespace string
}

// regionFieldOwner is the server-side apply manager of the objects a Region owns.
const regionFieldOwner = client.FieldOwner("rekomi-region")

// +kubebuilder:rbac:groups=rekomi.io,resources=regions,verbs=get;list;watch
// +kubebuilder:rbac:groups=rekomi.io,resources=regions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Region to its spec and reports what it found.
func (r *RegionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	region := &rekomiv1.Region{}
	if err := r.Client.Get(ctx, req.NamespacedName, region); err != nil {
		if apierrors.IsNotFound(err) {
			r.drift.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := region.Status.DeepCopy()
	conds := newConditionSet(&region.Status.Conditions, region.Generation)
	// flush reports what is known so far: events for the conditions that
	// moved, and the status when it changed.
	flush := func() error {
		conds.setReady(rekomiv1.ConditionDatabaseReady, rekomiv1.ConditionRolesReady, rekomiv1.ConditionSchemaReady,
			rekomiv1.ConditionIsolationVerified, rekomiv1.ConditionAppAvailable)
		region.Status.ObservedGeneration = region.Generation
		emitConditionEvents(r.Recorder, region, conds.changed)
		conds.changed = nil
		err := r.patchStatus(ctx, region, before)
		before = region.Status.DeepCopy()
		return err
	}

	result, err := r.reconcile(ctx, region, conds, flush)
	if patchErr := flush(); patchErr != nil {
		return ctrl.Result{}, errors.Join(err, patchErr)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if result.RequeueAfter == 0 {
		result.RequeueAfter = r.ResyncPeriod
	}
	return result, nil
}

// reconcile runs the steps in order; a step that cannot finish stops the
// pass, and the next pass starts again from the first step, which is safe
// because every step is idempotent.
func (r *RegionReconciler) reconcile(ctx context.Context, region *rekomiv1.Region, conds *conditionSet, flush func() error) (ctrl.Result, error) {
	if err := r.ensureNamespace(ctx, region); err != nil {
		return ctrl.Result{}, err
	}
	admin, ok, err := r.adminURL(ctx, region, conds)
	if !ok && err == nil {
		// Waiting for the admin Secret: watched when labelled rekomi.io/watch,
		// looked for again otherwise.
		return ctrl.Result{RequeueAfter: secretRetry}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	creds, err := r.ensureCredentials(ctx, region, admin)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.reconcileDatabase(ctx, region, admin, creds, conds, flush); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureKeyRing(ctx, region); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureTrustKey(ctx, region); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.reconcileApp(ctx, region, creds.runtime, conds)
}

func (r *RegionReconciler) ensureNamespace(ctx context.Context, region *rekomiv1.Region) error {
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, types.NamespacedName{Name: region.Spec.Namespace}, ns)
	if !apierrors.IsNotFound(err) {
		return err
	}
	// Not owned by the Region: deleting a Region must not delete the Secrets
	// that hold the database passwords.
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   region.Spec.Namespace,
		Labels: map[string]string{regionLabel: region.Name},
	}}
	if err := r.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns.Name, err)
	}
	return nil
}

// patchStatus writes the status when it differs from before.
func (r *RegionReconciler) patchStatus(ctx context.Context, region *rekomiv1.Region, before *rekomiv1.RegionStatus) error {
	if equality.Semantic.DeepEqual(*before, region.Status) {
		return nil
	}
	patched := region.DeepCopy()
	patched.Status = *before
	if err := r.Client.Status().Patch(ctx, region, client.MergeFrom(patched)); err != nil {
		return fmt.Errorf("patching status of region %s: %w", region.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller: Regions, the objects they own,
// and the admin Secrets they reference.
func (r *RegionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexRegions(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	r.drift = newDriftWatch(r.DriftInterval)
	if err := mgr.Add(r.drift); err != nil {
		return fmt.Errorf("adding the drift watch: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		WatchesRawSource(source.Channel(r.drift.events, &handler.EnqueueRequestForObject{})).
		For(&rekomiv1.Region{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.regionsForSecret)).
		Named("region").
		Complete(r)
}

// regionAdminSecretIndex is the field index of the manager's Region cache
// by the admin Secret (namespace/name) that spec.database names.
const regionAdminSecretIndex = "spec.database.adminSecretRef"

// indexRegions registers regionAdminSecretIndex and, for the repairs that
// audit in every organization of a Region, organizationRegionIndex.
func indexRegions(ctx context.Context, indexer client.FieldIndexer) error {
	if err := indexer.IndexField(ctx, &rekomiv1.Region{}, regionAdminSecretIndex, func(obj client.Object) []string {
		if region, ok := obj.(*rekomiv1.Region); ok {
			admin := region.Spec.Database.AdminSecretRef
			return []string{admin.Namespace + "/" + admin.Name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing regions by admin Secret: %w", err)
	}
	return indexOrganizationsByRegion(ctx, indexer)
}

// regionsForSecret maps a Secret to the Regions that reference it as their
// admin Secret, so that creating a missing Secret or changing it is acted on
// at once.
func (r *RegionReconciler) regionsForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	var regions rekomiv1.RegionList
	if err := r.Client.List(ctx, &regions,
		client.MatchingFields{regionAdminSecretIndex: obj.GetNamespace() + "/" + obj.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "Listing regions for a Secret", "secret", client.ObjectKeyFromObject(obj))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(regions.Items))
	for i := range regions.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: types.NamespacedName{Name: regions.Items[i].Name}})
	}
	return reqs
}
