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
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/db"
)

// ErrRegionNotProvisioned means a Region has no owner credentials yet: its
// controller has not reached the database.
var ErrRegionNotProvisioned = errors.New("region database not provisioned yet")

// RegionDatabases hands out one connection pool per Region, as the Region's
// owner role, for the controllers that write tenant rows (organizations,
// webhook endpoints). The owner is subject to forced row-level security, so
// every write goes through db.TenantTx. A pool is reopened when the owner
// Secret's URL changes (a re-set password).
type RegionDatabases struct {
	mu    sync.Mutex
	pools map[string]regionPool
}

type regionPool struct {
	url string
	db  *db.DB
}

// NewRegionDatabases returns an empty set of pools.
func NewRegionDatabases() *RegionDatabases {
	return &RegionDatabases{pools: map[string]regionPool{}}
}

// Owner returns the pool of region's database as its owner role.
func (r *RegionDatabases) Owner(ctx context.Context, c client.Reader, region *rekomiv1.Region) (*db.DB, error) {
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: OwnerSecretName(region.Name)}
	if err := c.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: Secret %s does not exist", ErrRegionNotProvisioned, key)
		}
		return nil, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	url := string(secret.Data[secretKeyURL])
	if url == "" {
		return nil, fmt.Errorf("%w: Secret %s has no %q", ErrRegionNotProvisioned, key, secretKeyURL)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pools[region.Name]; ok {
		if p.url == url {
			return p.db, nil
		}
		p.db.Close()
		delete(r.pools, region.Name)
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database of region %s: %w", region.Name, err)
	}
	r.pools[region.Name] = regionPool{url: url, db: d}
	return d, nil
}

// Close closes every pool.
func (r *RegionDatabases) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, p := range r.pools {
		p.db.Close()
		delete(r.pools, name)
	}
}

// regionOfOwnerSecret returns the Region whose owner credentials obj is, or
// nil when obj is no Region's owner Secret.
func regionOfOwnerSecret(ctx context.Context, c client.Reader, obj client.Object) *rekomiv1.Region {
	name, ok := strings.CutSuffix(obj.GetName(), OwnerSecretName(""))
	if !ok || name == "" {
		return nil
	}
	region := &rekomiv1.Region{}
	if err := c.Get(ctx, types.NamespacedName{Name: name}, region); err != nil {
		if !apierrors.IsNotFound(err) {
			log.FromContext(ctx).Error(err, "Reading the Region of an owner Secret", "secret", client.ObjectKeyFromObject(obj))
		}
		return nil
	}
	if region.Spec.Namespace != obj.GetNamespace() {
		return nil
	}
	return region
}
