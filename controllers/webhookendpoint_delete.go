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

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// reconcileDelete disables a deleted endpoint's row and removes its route
// key, then lets the object go. When the Organization or Region is gone
// there is nothing left to disable, and the finalizer goes at once; a
// Region whose database is not reachable yet is waited for.
func (r *WebhookEndpointReconciler) reconcileDelete(ctx context.Context, ep *rekomiv1.WebhookEndpoint) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ep, endpointFinalizer) {
		return ctrl.Result{}, nil
	}
	if result, err := r.withdraw(ctx, ep); err != nil || !result.IsZero() {
		return result, err
	}
	patched := ep.DeepCopy()
	controllerutil.RemoveFinalizer(patched, endpointFinalizer)
	if err := r.Client.Patch(ctx, patched, client.MergeFromWithOptions(ep, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("removing finalizer of webhook endpoint %s/%s: %w", ep.Namespace, ep.Name, err))
	}
	return ctrl.Result{}, nil
}
