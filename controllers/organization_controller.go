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
	"strings"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/db"
)

// PurgeFinalizer holds an Organization's deletion until its tenant rows are
// purged.
const PurgeFinalizer = "rekomi.io/purge"

// PurgeNowAnnotation, set to "true" on an Organization, purges its tenant
// rows at once instead of at status.purgeAt. The override is audited.
const PurgeNowAnnotation = "rekomi.io/purge-now"

// regionWait is how long an Organization waits for its Region's database
// before looking again (the Region watch may bring it back sooner).
const regionWait = 15 * time.Second

// OrganizationReconciler provisions an Organization in its Region's
// database: its row, its first admin API key, its Stripe key (sealed), and
// its cancellation and purge.
type OrganizationReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// DBs gives the Region databases as their owner role.
	DBs *RegionDatabases
	// Clock decides cancellation and purge times.
	Clock clock.PassiveClock
	// Rand supplies organization ids and API keys (crypto/rand.Reader).
	Rand io.Reader
	// OperatorNamespace holds the audit witness key (WitnessSecretName).
	// Empty: audit chains are not witnessed.
	OperatorNamespace string

	witness *witnessKeyCache
}

// +kubebuilder:rbac:groups=rekomi.io,resources=organizations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=rekomi.io,resources=organizations/finalizers,verbs=update
// +kubebuilder:rbac:groups=rekomi.io,resources=organizations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=rekomi.io,resources=regions,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one Organization to its spec and reports what it found.
func (r *OrganizationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	org := &rekomiv1.Organization{}
	if err := r.Client.Get(ctx, req.NamespacedName, org); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if err := r.ensureFinalizer(ctx, org); err != nil {
		return ctrl.Result{}, err
	}
	before := org.Status.DeepCopy()
	conds := newConditionSet(&org.Status.Conditions, org.Generation)
	// flush reports what is known so far: events for the conditions that
	// moved, and the status when it changed.
	flush := func() error {
		org.Status.ObservedGeneration = org.Generation
		emitConditionEvents(r.Recorder, org, conds.changed)
		conds.changed = nil
		err := r.patchStatus(ctx, org, before)
		before = org.Status.DeepCopy()
		return err
	}

	result, err := r.reconcile(ctx, org, conds, flush)
	if patchErr := flush(); patchErr != nil {
		return ctrl.Result{}, errors.Join(err, patchErr)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

// reconcile finds the Region and its database, then provisions, cancels or
// purges. Every step is idempotent, so a pass that stops half-way is
// finished by the next.
func (r *OrganizationReconciler) reconcile(ctx context.Context, org *rekomiv1.Organization, conds *conditionSet, flush func() error) (ctrl.Result, error) {
	if !org.DeletionTimestamp.IsZero() && org.Status.ID == "" {
		// status.id is written before any row: nothing was provisioned.
		return ctrl.Result{}, r.removeFinalizer(ctx, org)
	}
	region, ok, err := r.region(ctx, org, conds)
	if !ok {
		return ctrl.Result{}, err // waiting for the Region: its watch brings us back
	}
	pool, ok, err := r.regionDB(ctx, org, region, conds)
	if !ok {
		if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: regionWait}, nil
	}
	var facts orgFacts
	if org.Status.ID != "" {
		id, err := uuid.Parse(org.Status.ID)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("reading status.id of organization %s: %w", org.Name, err)
		}
		if facts, err = readOrg(ctx, pool, id); err != nil {
			return ctrl.Result{}, err
		}
	}
	allowed := planAllowed(region, org.Spec.Plan)
	if facts.row == nil && (!allowed || !org.DeletionTimestamp.IsZero()) {
		// Nothing in the database, and nothing to provision.
		if !allowed {
			conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonPlanNotAllowed, planNotAllowedMessage(org, region))
		}
		if !org.DeletionTimestamp.IsZero() {
			return ctrl.Result{}, r.removeFinalizer(ctx, org)
		}
		return ctrl.Result{}, nil
	}
	return r.provision(ctx, org, region, pool, facts, allowed, conds, flush)
}

// provision writes the organization's row and admin key, purges it when
// due, and reports the outcome.
func (r *OrganizationReconciler) provision(ctx context.Context, org *rekomiv1.Organization, region *rekomiv1.Region, pool *db.DB,
	facts orgFacts, allowed bool, conds *conditionSet, flush func() error) (ctrl.Result, error) {
	id, err := r.ensureID(org)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := r.Clock.Now().UTC().Truncate(time.Second)
	want := desiredRow(org, facts.row, allowed, region.Spec.Retention.GracePeriod.Duration, now)
	var key, notOwned string
	if want.Status != orgPurged && org.DeletionTimestamp.IsZero() && !facts.hasAdminKey {
		if key, notOwned, err = r.adminKeySecret(ctx, org, region); err != nil {
			return ctrl.Result{}, err
		}
	}
	if notOwned != "" {
		// That Secret is not watched (it is not ours): look again later.
		conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonAdminKeySecretNotOwned, notOwned)
		return ctrl.Result{RequeueAfter: regionWait}, nil
	}
	if err := writeOrg(ctx, pool, id, facts.row, want, key, placeOf(org, region)); err != nil {
		return ctrl.Result{}, err
	}
	if purgeDue(want, now, purgeNowRequested(org)) {
		if err := r.purge(ctx, org, pool, id, now); err != nil {
			return ctrl.Result{}, err
		}
		want.Status, want.PurgeAt = orgPurged, &now
	}
	if want.Status == orgPurged {
		if err := r.deleteAdminKeySecret(ctx, org, region); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.report(org, region, want, allowed, conds)
	stripeAfter, err := r.syncStripeKey(ctx, org, region, pool, id, want.Status == orgPurged, conds)
	if err != nil {
		return ctrl.Result{}, err
	}
	if r.OperatorNamespace != "" {
		// Witnessed after the purge, so that its head covers the purge's
		// own entry.
		problem, err := r.witnessAudit(ctx, org, pool, id, now, conds)
		if err != nil {
			return ctrl.Result{}, err
		}
		if problem != nil {
			conds.set(rekomiv1.ConditionReady, false, problem.reason, problem.message)
		}
	}
	if want.Status == orgPurged && !org.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.removeFinalizer(ctx, org)
	}
	return ctrl.Result{RequeueAfter: sooner(r.requeueAfter(want, now), stripeAfter)}, nil
}

// sooner is the shorter of two requeue delays, where 0 means never.
func sooner(a, b time.Duration) time.Duration {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// requeueAfter is when the organization is looked at again: at its purge
// time, and every witnessInterval while its audit log may grow.
func (r *OrganizationReconciler) requeueAfter(row orgRow, now time.Time) time.Duration {
	after := requeueAfter(row, now)
	if r.OperatorNamespace == "" || row.Status == orgPurged {
		return after
	}
	if after == 0 {
		return witnessInterval
	}
	return min(after, witnessInterval)
}

// ensureID returns the organization's id: the Organization's own UID, so it
// is known before any row exists and a crash can never leave a row the next
// pass cannot find. A recreated Organization is a new tenant.
func (r *OrganizationReconciler) ensureID(org *rekomiv1.Organization) (uuid.UUID, error) {
	if org.Status.ID != "" {
		return uuid.Parse(org.Status.ID)
	}
	id, err := uuid.Parse(string(org.UID))
	if err != nil {
		return uuid.Nil, fmt.Errorf("organization %s has no UUID uid: %w", org.Name, err)
	}
	org.Status.ID = id.String()
	return id, nil
}

// report sets the status from the row as it now is.
func (r *OrganizationReconciler) report(org *rekomiv1.Organization, region *rekomiv1.Region, row orgRow, allowed bool, conds *conditionSet) {
	org.Status.PurgeAt = nil
	if row.PurgeAt != nil {
		org.Status.PurgeAt = &metav1.Time{Time: *row.PurgeAt}
	}
	if row.Status == orgPurged {
		conds.set(rekomiv1.ConditionPurged, true, rekomiv1.ReasonPurged, purgedMessage(row))
	}
	ok, reason, message := readyCondition(org, region, row, allowed)
	conds.set(rekomiv1.ConditionReady, ok, reason, message)
}

// region reads the Organization's Region. ok is false when it must wait:
// the condition says why, and err is set only for API failures.
func (r *OrganizationReconciler) region(ctx context.Context, org *rekomiv1.Organization, conds *conditionSet) (*rekomiv1.Region, bool, error) {
	region := &rekomiv1.Region{}
	err := r.Client.Get(ctx, types.NamespacedName{Name: org.Spec.Region}, region)
	if apierrors.IsNotFound(err) {
		conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonRegionNotFound, fmt.Sprintf("Region %s does not exist", org.Spec.Region))
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading Region %s: %w", org.Spec.Region, err)
	}
	return region, true, nil
}

// regionDB returns the pool of the Region's database. ok is false when the
// Region is not provisioned yet (err nil: wait) or cannot be reached.
func (r *OrganizationReconciler) regionDB(ctx context.Context, org *rekomiv1.Organization, region *rekomiv1.Region, conds *conditionSet) (*db.DB, bool, error) {
	if !meta.IsStatusConditionTrue(region.Status.Conditions, string(rekomiv1.ConditionSchemaReady)) {
		conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonDependencyNotReady,
			fmt.Sprintf("the database of Region %s is not provisioned yet (SchemaReady is not True)", region.Name))
		return nil, false, nil
	}
	pool, err := r.DBs.Owner(ctx, r.Client, region)
	if errors.Is(err, ErrRegionNotProvisioned) {
		conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonDependencyNotReady,
			fmt.Sprintf("Region %s: %s", region.Name, oneLine(err)))
		return nil, false, nil
	}
	if err != nil {
		conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonDatabaseUnreachable, oneLine(err))
		return nil, false, fmt.Errorf("connecting organization %s to its region: %w", org.Name, err)
	}
	return pool, true, nil
}

// ensureFinalizer adds the purge finalizer to an Organization that is not
// being deleted, before anything is provisioned.
func (r *OrganizationReconciler) ensureFinalizer(ctx context.Context, org *rekomiv1.Organization) error {
	if !org.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(org, PurgeFinalizer) {
		return nil
	}
	patched := org.DeepCopy()
	controllerutil.AddFinalizer(patched, PurgeFinalizer)
	if err := r.Client.Patch(ctx, patched, client.MergeFromWithOptions(org, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding the finalizer to organization %s: %w", org.Name, err)
	}
	org.Finalizers, org.ResourceVersion = patched.Finalizers, patched.ResourceVersion
	return nil
}

// removeFinalizer lets the API server finish deleting the Organization.
func (r *OrganizationReconciler) removeFinalizer(ctx context.Context, org *rekomiv1.Organization) error {
	if !controllerutil.ContainsFinalizer(org, PurgeFinalizer) {
		return nil
	}
	patched := org.DeepCopy()
	controllerutil.RemoveFinalizer(patched, PurgeFinalizer)
	if err := r.Client.Patch(ctx, patched, client.MergeFromWithOptions(org, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("removing the finalizer of organization %s: %w", org.Name, err))
	}
	return nil
}

// patchStatus writes the status when it differs from before. An
// Organization whose deletion just finished has no status to write.
func (r *OrganizationReconciler) patchStatus(ctx context.Context, org *rekomiv1.Organization, before *rekomiv1.OrganizationStatus) error {
	if equality.Semantic.DeepEqual(*before, org.Status) {
		return nil
	}
	patched := org.DeepCopy()
	patched.Status = *before
	if err := r.Client.Status().Patch(ctx, org, client.MergeFrom(patched)); err != nil {
		if apierrors.IsNotFound(err) && !org.DeletionTimestamp.IsZero() {
			return nil
		}
		return fmt.Errorf("patching status of organization %s: %w", org.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller: Organizations (on spec and
// annotation changes), the Secrets they own, their Regions, the Regions'
// owner credentials, their Stripe Secrets and the bindings of the
// namespaces that hold those.
func (r *OrganizationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexStripeSecrets(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := indexOrganizationsByRegion(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&rekomiv1.Organization{}, builder.WithPredicates(
			predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// The key Secret is written by the reconcile itself: its creation
		// needs no second pass; a change or deletion does.
		Owns(&corev1.Secret{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
		})).
		Watches(&rekomiv1.Region{}, handler.EnqueueRequestsFromMapFunc(r.organizationsForRegion)).
		// The owner credentials of a Region change when its server moves or
		// its password is re-set; the organizations write through them.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.organizationsForSecret)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.organizationsForNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Named("organization").
		Complete(r)
}

// organizationsForSecret maps a Secret to the Organizations that read it:
// as their Region's owner credentials or as their Stripe Secret.
func (r *OrganizationReconciler) organizationsForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	return append(r.organizationsForOwnerSecret(ctx, obj), r.organizationsForStripeSecret(ctx, obj)...)
}

// organizationsForOwnerSecret maps a Region's owner credentials Secret to
// the Organizations of that Region, so that a new URL (a server that moved,
// a re-set password) is taken up at once rather than after the backoff of
// the connections that failed meanwhile.
func (r *OrganizationReconciler) organizationsForOwnerSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	region := regionOfOwnerSecret(ctx, r.Client, obj)
	if region == nil {
		return nil
	}
	return r.organizationsForRegion(ctx, region)
}

// organizationRegionIndex is the field index of the manager's Organization
// cache by spec.region.
const organizationRegionIndex = "spec.region"

// indexOrganizationsByRegion registers organizationRegionIndex. Every
// reconciler that lists a Region's organizations calls it, so that each
// can run in a manager of its own; in a manager they share, the first
// registers the index and the others find it there, which the cache
// reports as an indexer conflict.
func indexOrganizationsByRegion(ctx context.Context, indexer client.FieldIndexer) error {
	err := indexer.IndexField(ctx, &rekomiv1.Organization{}, organizationRegionIndex, func(obj client.Object) []string {
		if org, ok := obj.(*rekomiv1.Organization); ok {
			return []string{org.Spec.Region}
		}
		return nil
	})
	if err != nil && !strings.Contains(err.Error(), "indexer conflict") {
		return fmt.Errorf("indexing organizations by region: %w", err)
	}
	return nil
}

// organizationsForRegion maps a Region to the Organizations that live in it.
func (r *OrganizationReconciler) organizationsForRegion(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.organizationsIndexed(ctx, organizationRegionIndex, obj.GetName())
}
