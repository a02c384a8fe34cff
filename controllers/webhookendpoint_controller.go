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
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/controllers/webhooksecret"
)

// WebhookEndpointReconciler stores a WebhookEndpoint's signing secrets,
// encrypted with its Region's key ring, in the region database, and
// publishes the URL the provider must call.
type WebhookEndpointReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// DBs gives the pools to the region databases, as their owner roles.
	DBs *RegionDatabases
	// ResyncPeriod is how often a stored endpoint is compared with its row
	// again, so that drift in the database is repaired without an event.
	ResyncPeriod time.Duration
}

// endpointFinalizer holds a WebhookEndpoint's deletion until its row is
// disabled and its route key removed.
const endpointFinalizer = "rekomi.io/endpoint"

// dependencyRetry is how soon an endpoint waiting on its Region is checked
// again; the Region's progress is not watched.
const dependencyRetry = 30 * time.Second

// +kubebuilder:rbac:groups=rekomi.io,resources=webhookendpoints,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=rekomi.io,resources=webhookendpoints/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=rekomi.io,resources=webhookendpoints/finalizers,verbs=update
// +kubebuilder:rbac:groups=rekomi.io,resources=organizations;regions,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile stores one WebhookEndpoint in its region database, or disables
// it there once the object is deleted, and reports what it found.
func (r *WebhookEndpointReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ep := &rekomiv1.WebhookEndpoint{}
	if err := r.Client.Get(ctx, req.NamespacedName, ep); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ep.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, ep)
	}
	before := ep.Status.DeepCopy()
	conds := newConditionSet(&ep.Status.Conditions, ep.Generation)
	// flush reports what is known so far: events for the conditions that
	// moved, and the status when it changed.
	flush := func() error {
		ep.Status.ObservedGeneration = ep.Generation
		emitConditionEvents(r.Recorder, ep, conds.changed)
		conds.changed = nil
		err := r.patchStatus(ctx, ep, before)
		before = ep.Status.DeepCopy()
		return err
	}

	result, err := r.reconcile(ctx, ep, conds, flush)
	if patchErr := flush(); patchErr != nil {
		return ctrl.Result{}, errors.Join(err, patchErr)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if result.RequeueAfter == 0 && conds.isTrue(rekomiv1.ConditionReady) {
		result.RequeueAfter = r.ResyncPeriod
	}
	return result, nil
}

// reconcile gathers the facts in order (the namespace's binding to the
// Organization, the Secret, then the Organization, its Region and the
// Region's database and key ring), then stores the endpoint. A fact that is
// not there yet stops the pass with a condition saying why; the watches or a
// requeue bring it back. An endpoint in a namespace not bound to its
// Organization is withdrawn from its row.
func (r *WebhookEndpointReconciler) reconcile(ctx context.Context, ep *rekomiv1.WebhookEndpoint, conds *conditionSet, flush func() error) (ctrl.Result, error) {
	message, unbound, err := r.namespaceNotBound(ctx, ep)
	if err != nil {
		return ctrl.Result{}, err
	}
	if unbound {
		conds.set(rekomiv1.ConditionReady, false, rekomiv1.ReasonNamespaceNotBound, message)
		ep.Status.URL = ""
		return r.withdraw(ctx, ep)
	}
	secrets, err := r.readSecrets(ctx, ep, conds)
	if err != nil {
		return ctrl.Result{}, err
	}
	target, w, err := r.target(ctx, ep, true)
	if w != nil && w.reason == rekomiv1.ReasonPurged {
		ep.Status.URL = ""
		w.message += fmt.Sprintf("; Secret %s/%s, which holds the signing secrets, is not the operator's and is left in place: "+
			"delete it with this WebhookEndpoint", ep.Namespace, ep.Spec.SecretRef.Name)
	}
	if w != nil {
		conds.set(rekomiv1.ConditionReady, false, w.reason, w.message)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if w != nil {
		return ctrl.Result{RequeueAfter: w.retry}, nil
	}
	if secrets == nil {
		// A Secret labelled rekomi.io/watch is watched; any other is looked
		// for again.
		conds.setReady(rekomiv1.ConditionSecretValid)
		return ctrl.Result{RequeueAfter: dependencyRetry}, nil
	}

	if err := r.ensureFinalizer(ctx, ep); err != nil {
		return ctrl.Result{}, err
	}
	id, err := ensureEndpointID(ep, flush)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.store(ctx, target, ep, id, secrets); err != nil {
		return ctrl.Result{}, err
	}
	ep.Status.URL = webhookURL(target.region.Spec.App.PublicBaseURL, ep.Spec.Provider, id)
	conds.setReady(rekomiv1.ConditionSecretValid)
	return ctrl.Result{}, nil
}

// readSecrets reads and validates the endpoint's Secret and sets SecretValid.
// It returns nil secrets when the Secret is missing or invalid, and an error
// only for API failures.
func (r *WebhookEndpointReconciler) readSecrets(ctx context.Context, ep *rekomiv1.WebhookEndpoint, conds *conditionSet) ([]string, error) {
	key := types.NamespacedName{Namespace: ep.Namespace, Name: ep.Spec.SecretRef.Name}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			conds.set(rekomiv1.ConditionSecretValid, false, rekomiv1.ReasonSecretNotFound,
				fmt.Sprintf("Secret %s does not exist", key))
			return nil, nil
		}
		return nil, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	secrets, err := webhooksecret.Parse(ep.Spec.Provider, secret.Data)
	if err != nil {
		conds.set(rekomiv1.ConditionSecretValid, false, rekomiv1.ReasonSecretInvalid,
			fmt.Sprintf("Secret %s: %s", key, err))
		return nil, nil
	}
	conds.set(rekomiv1.ConditionSecretValid, true, rekomiv1.ReasonReconciled,
		fmt.Sprintf("Secret %s holds %d %s signing secret(s)", key, len(secrets), ep.Spec.Provider))
	return secrets, nil
}

// ensureFinalizer adds the finalizer before any row exists, so that the
// row is disabled when the endpoint is deleted. Only the metadata is
// patched: ep's status keeps the conditions decided so far.
func (r *WebhookEndpointReconciler) ensureFinalizer(ctx context.Context, ep *rekomiv1.WebhookEndpoint) error {
	if controllerutil.ContainsFinalizer(ep, endpointFinalizer) {
		return nil
	}
	patched := ep.DeepCopy()
	controllerutil.AddFinalizer(patched, endpointFinalizer)
	if err := r.Client.Patch(ctx, patched, client.MergeFromWithOptions(ep, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding finalizer to webhook endpoint %s/%s: %w", ep.Namespace, ep.Name, err)
	}
	ep.Finalizers = patched.Finalizers
	ep.ResourceVersion = patched.ResourceVersion
	return nil
}

// ensureEndpointID returns the endpoint's id, drawing a new one and writing
// it to the status first when there is none, so that no row is ever written
// under an id the status does not hold.
func ensureEndpointID(ep *rekomiv1.WebhookEndpoint, flush func() error) (uuid.UUID, error) {
	if ep.Status.EndpointID != "" {
		id, err := uuid.Parse(ep.Status.EndpointID)
		if err != nil {
			return uuid.Nil, fmt.Errorf("status.endpointID of webhook endpoint %s/%s is not a UUID", ep.Namespace, ep.Name)
		}
		return id, nil
	}
	id := uuid.New()
	ep.Status.EndpointID = id.String()
	if err := flush(); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// patchStatus writes the status when it differs from before.
func (r *WebhookEndpointReconciler) patchStatus(ctx context.Context, ep *rekomiv1.WebhookEndpoint, before *rekomiv1.WebhookEndpointStatus) error {
	if equality.Semantic.DeepEqual(*before, ep.Status) {
		return nil
	}
	patched := ep.DeepCopy()
	patched.Status = *before
	if err := r.Client.Status().Patch(ctx, ep, client.MergeFrom(patched)); err != nil {
		return fmt.Errorf("patching status of webhook endpoint %s/%s: %w", ep.Namespace, ep.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller: WebhookEndpoints, the Secrets
// that hold their signing secrets, their Organizations, and the labels of
// the namespaces that hold them.
func (r *WebhookEndpointReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := indexEndpoints(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	if err := indexOrganizationsByRegion(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&rekomiv1.WebhookEndpoint{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.endpointsForSecret)).
		Watches(&rekomiv1.Organization{}, handler.EnqueueRequestsFromMapFunc(r.endpointsForOrganization)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.endpointsForNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Named("webhookendpoint").
		Complete(r)
}

// endpointsForSecret maps a Secret to the endpoints of its namespace whose
// secretRef names it, so that a rotation is stored at once, and a Region's
// owner credentials to the endpoints of its organizations. Only Secrets
// labelled rekomi.io/watch reach it; the others are read at each pass.
func (r *WebhookEndpointReconciler) endpointsForSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	reqs := r.endpointsIndexed(ctx, endpointSecretIndex, obj.GetName(), client.InNamespace(obj.GetNamespace()))
	return append(reqs, r.endpointsForOwnerSecret(ctx, obj)...)
}

// endpointsForOwnerSecret maps a Region's owner credentials Secret to the
// endpoints of the Region's organizations: a new URL (a server restarted on
// another port, a re-set password) is taken up at once, not after the
// backoff that the connections failing meanwhile have grown.
func (r *WebhookEndpointReconciler) endpointsForOwnerSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	region := regionOfOwnerSecret(ctx, r.Client, obj)
	if region == nil {
		return nil
	}
	var orgs rekomiv1.OrganizationList
	if err := r.Client.List(ctx, &orgs, client.MatchingFields{organizationRegionIndex: region.Name}); err != nil {
		log.FromContext(ctx).Error(err, "Listing organizations for a Region", "region", region.Name)
		return nil
	}
	var reqs []reconcile.Request
	for i := range orgs.Items {
		reqs = append(reqs, r.endpointsIndexed(ctx, endpointOrganizationIndex, orgs.Items[i].Name)...)
	}
	return reqs
}

// endpointsForOrganization maps an Organization to its endpoints.
func (r *WebhookEndpointReconciler) endpointsForOrganization(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.endpointsIndexed(ctx, endpointOrganizationIndex, obj.GetName())
}

// Field indexes of the manager's WebhookEndpoint cache, so that a Secret's
// or an Organization's event finds its endpoints without listing them all.
const (
	endpointSecretIndex       = "spec.secretRef.name"
	endpointOrganizationIndex = "spec.organization"
)

// indexEndpoints registers the two indexes.
func indexEndpoints(ctx context.Context, indexer client.FieldIndexer) error {
	fields := map[string]func(*rekomiv1.WebhookEndpoint) string{
		endpointSecretIndex:       func(ep *rekomiv1.WebhookEndpoint) string { return ep.Spec.SecretRef.Name },
		endpointOrganizationIndex: func(ep *rekomiv1.WebhookEndpoint) string { return ep.Spec.Organization },
	}
	for name, field := range fields {
		if err := indexer.IndexField(ctx, &rekomiv1.WebhookEndpoint{}, name, func(obj client.Object) []string {
			if ep, ok := obj.(*rekomiv1.WebhookEndpoint); ok {
				return []string{field(ep)}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("indexing webhook endpoints by %s: %w", name, err)
		}
	}
	return nil
}

// endpointsIndexed lists the endpoints whose index holds value.
func (r *WebhookEndpointReconciler) endpointsIndexed(ctx context.Context, index, value string, opts ...client.ListOption) []reconcile.Request {
	return r.endpointsListed(ctx, append(opts, client.MatchingFields{index: value})...)
}

// endpointsListed maps the endpoints that opts select.
func (r *WebhookEndpointReconciler) endpointsListed(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
	var list rekomiv1.WebhookEndpointList
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		log.FromContext(ctx).Error(err, "Listing webhook endpoints")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
