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

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// notBound says why a namespace with labels may not hold endpoints of
// organization org: it does not carry OrganizationLabel with org as its
// value. The message names the label to set and who can set it.
func notBound(namespace string, labels map[string]string, org string) (message string, unbound bool) {
	need := fmt.Sprintf("%s: %s", rekomiv1.OrganizationLabel, org)
	value, ok := labels[rekomiv1.OrganizationLabel]
	switch {
	case ok && value == org:
		return "", false
	case ok:
		return fmt.Sprintf("namespace %s carries %s: %s, not %s, which binds it to Organization %s; whoever may update namespaces can set it",
			namespace, rekomiv1.OrganizationLabel, value, need, org), true
	}
	return fmt.Sprintf("namespace %s does not carry the label %s, which binds it to Organization %s; whoever may update namespaces can set it",
		namespace, need, org), true
}

// namespaceNotBound reads the endpoint's namespace and says whether it is
// bound to the endpoint's organization. A namespace that is gone binds
// nothing.
func (r *WebhookEndpointReconciler) namespaceNotBound(ctx context.Context, ep *rekomiv1.WebhookEndpoint) (string, bool, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, types.NamespacedName{Name: ep.Namespace}, ns); err != nil && !apierrors.IsNotFound(err) {
		return "", false, fmt.Errorf("reading namespace %s: %w", ep.Namespace, err)
	}
	message, unbound := notBound(ep.Namespace, ns.Labels, ep.Spec.Organization)
	return message, unbound, nil
}

// withdraw disables the endpoint's row and removes its route key, so that
// its URL receives nothing from now on: for a deleted endpoint, and for one
// whose namespace is not bound to its organization (whose finalizer and id
// stay, so that binding the namespace again stores the same endpoint).
// When the Organization or Region is gone there is nothing to disable; a
// Region whose database is not reachable yet is waited for.
func (r *WebhookEndpointReconciler) withdraw(ctx context.Context, ep *rekomiv1.WebhookEndpoint) (ctrl.Result, error) {
	// An endpoint without a valid id never wrote a row.
	id, err := uuid.Parse(ep.Status.EndpointID)
	if err != nil {
		return ctrl.Result{}, nil
	}
	t, w, err := r.target(ctx, ep, false)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case w == nil:
		if err := disable(ctx, t, id, ep.Namespace+"/"+ep.Name); err != nil {
			return ctrl.Result{}, fmt.Errorf("disabling webhook endpoint %s/%s in region %s: %w", ep.Namespace, ep.Name, t.region.Name, err)
		}
	case !w.gone:
		log.FromContext(ctx).Info("Waiting to disable the webhook endpoint's row", "reason", w.reason, "message", w.message)
		return ctrl.Result{RequeueAfter: dependencyRetry}, nil
	}
	return ctrl.Result{}, nil
}

// endpointsForNamespace maps a namespace to the endpoints it holds, so that
// a change of its binding is acted on at once.
func (r *WebhookEndpointReconciler) endpointsForNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.endpointsListed(ctx, client.InNamespace(obj.GetName()))
}
