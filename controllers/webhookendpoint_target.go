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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
)

// endpointTarget is where an endpoint's row lives: its organization in its
// Region's database, reached as the owner role, and the key ring that seals
// its secrets.
type endpointTarget struct {
	orgID  uuid.UUID
	region *rekomiv1.Region
	db     *db.DB
	ring   *keyring.KeyRing // nil unless asked for
}

// wait says why an endpoint cannot reach its row yet: Ready's reason and
// message.
type wait struct {
	reason  rekomiv1.ConditionReason
	message string
	// retry is when to look again; zero when a watch brings the endpoint back.
	retry time.Duration
	// gone is set when nothing can hold the endpoint's row any more (no
	// Organization, no organization id, no Region): deletion need not wait.
	gone bool
}

// target finds the endpoint's organization, Region, database pool and, for a
// store, key ring. It returns a wait when one of them is not there yet, and
// an error for API and connection failures (with a wait that says so).
func (r *WebhookEndpointReconciler) target(ctx context.Context, ep *rekomiv1.WebhookEndpoint, forStore bool) (*endpointTarget, *wait, error) {
	org := &rekomiv1.Organization{}
	if err := r.Client.Get(ctx, types.NamespacedName{Name: ep.Spec.Organization}, org); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &wait{reason: rekomiv1.ReasonOrganizationNotFound, gone: true,
				message: fmt.Sprintf("Organization %s does not exist", ep.Spec.Organization)}, nil
		}
		return nil, nil, fmt.Errorf("reading Organization %s: %w", ep.Spec.Organization, err)
	}
	orgID, w := organizationID(org, forStore)
	if w != nil {
		return nil, w, nil
	}

	region := &rekomiv1.Region{}
	if err := r.Client.Get(ctx, types.NamespacedName{Name: org.Spec.Region}, region); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &wait{reason: rekomiv1.ReasonDependencyNotReady, retry: dependencyRetry, gone: true,
				message: fmt.Sprintf("Region %s of Organization %s does not exist", org.Spec.Region, org.Name)}, nil
		}
		return nil, nil, fmt.Errorf("reading Region %s: %w", org.Spec.Region, err)
	}
	pool, err := r.DBs.Owner(ctx, r.Client, region)
	if errors.Is(err, ErrRegionNotProvisioned) {
		return nil, &wait{reason: rekomiv1.ReasonDependencyNotReady, retry: dependencyRetry,
			message: fmt.Sprintf("Region %s: %s", region.Name, oneLine(err))}, nil
	}
	if err != nil {
		return nil, &wait{reason: rekomiv1.ReasonDatabaseUnreachable, message: oneLine(err)}, err
	}
	t := &endpointTarget{orgID: orgID, region: region, db: pool}
	if !forStore {
		return t, nil, nil
	}

	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: KeyRingSecretName(region.Name)}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &wait{reason: rekomiv1.ReasonDependencyNotReady, retry: dependencyRetry,
				message: fmt.Sprintf("key ring Secret %s of Region %s does not exist", key, region.Name)}, nil
		}
		return nil, nil, fmt.Errorf("reading key ring Secret %s: %w", key, err)
	}
	// Parse's errors never quote key material.
	if t.ring, err = keyring.Parse(secret.Data[keyring.SecretKey]); err != nil {
		return nil, &wait{reason: rekomiv1.ReasonDependencyNotReady, retry: dependencyRetry,
			message: fmt.Sprintf("key ring Secret %s: %s", key, oneLine(err))}, nil
	}
	return t, nil, nil
}

// organizationID returns the id of org's row, or why it cannot be used: no
// id yet, or, when ready is asked for, an Organization that is not Ready.
func organizationID(org *rekomiv1.Organization, ready bool) (uuid.UUID, *wait) {
	if org.Status.ID == "" {
		return uuid.Nil, &wait{reason: rekomiv1.ReasonDependencyNotReady, gone: true,
			message: fmt.Sprintf("Organization %s has no id yet", org.Name)}
	}
	id, err := uuid.Parse(org.Status.ID)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, &wait{reason: rekomiv1.ReasonDependencyNotReady, gone: true,
			message: fmt.Sprintf("Organization %s has a status.id that is not a UUID", org.Name)}
	}
	if meta.IsStatusConditionTrue(org.Status.Conditions, string(rekomiv1.ConditionPurged)) {
		// The purge deleted the endpoint's row and route: nothing to wait for.
		return uuid.Nil, &wait{reason: rekomiv1.ReasonPurged, gone: true,
			message: fmt.Sprintf("Organization %s is purged: this endpoint's row, its sealed signing secrets and its route "+
				"are deleted from the Region database, so its URL answers 401", org.Name)}
	}
	if ready && !meta.IsStatusConditionTrue(org.Status.Conditions, string(rekomiv1.ConditionReady)) {
		return uuid.Nil, &wait{reason: rekomiv1.ReasonDependencyNotReady,
			message: fmt.Sprintf("Organization %s is not Ready", org.Name)}
	}
	return id, nil
}
