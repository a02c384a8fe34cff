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
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// IndexedClient is c, a client of the API server, that also answers the
// field selectors on the indexes the reconcilers register in the manager's
// cache, which the API server refuses on custom resources: it lists without
// them and keeps the objects whose indexed values hold the one asked for.
// Tests that call Reconcile themselves, reading what they just wrote, give
// it to the reconcilers that list through those indexes.
func IndexedClient(tb testing.TB, c client.Client) client.Client {
	tb.Helper()
	ic := &indexedClient{Client: c, indexes: map[string]client.IndexerFunc{}}
	ctx := context.Background()
	for _, index := range []func(context.Context, client.FieldIndexer) error{
		indexRegions, indexOrganizationsByRegion, indexStripeSecrets, indexEndpoints,
	} {
		if err := index(ctx, ic); err != nil {
			tb.Fatalf("registering the field indexes: %v", err)
		}
	}
	return ic
}

type indexedClient struct {
	client.Client
	indexes map[string]client.IndexerFunc // by kind and field, "Kind/field"
}

func (c *indexedClient) IndexField(_ context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	kind, err := c.kindOf(obj)
	if err != nil {
		return err
	}
	if _, ok := c.indexes[kind+"/"+field]; ok {
		return fmt.Errorf("indexer conflict: %s/%s", kind, field)
	}
	c.indexes[kind+"/"+field] = extract
	return nil
}

// List answers a field selector whose requirements are all equalities on
// indexes; any other goes to the API server as it is.
func (c *indexedClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := (&client.ListOptions{}).ApplyOptions(opts)
	if o.FieldSelector == nil || o.FieldSelector.Empty() {
		return c.Client.List(ctx, list, opts...)
	}
	kind, err := c.kindOf(list)
	if err != nil {
		return err
	}
	kind = strings.TrimSuffix(kind, "List")
	reqs := o.FieldSelector.Requirements()
	for _, req := range reqs {
		if _, ok := c.indexes[kind+"/"+req.Field]; !ok || (req.Operator != selection.Equals && req.Operator != selection.DoubleEquals) {
			return c.Client.List(ctx, list, opts...)
		}
	}
	o.FieldSelector = nil
	if err := c.Client.List(ctx, list, o); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	kept := items[:0]
	for _, item := range items {
		obj, ok := item.(client.Object)
		if ok && c.matches(kind, obj, reqs) {
			kept = append(kept, item)
		}
	}
	return meta.SetList(list, kept)
}

func (c *indexedClient) matches(kind string, obj client.Object, reqs fields.Requirements) bool {
	for _, req := range reqs {
		if !slices.Contains(c.indexes[kind+"/"+req.Field](obj), req.Value) {
			return false
		}
	}
	return true
}

func (c *indexedClient) kindOf(obj runtime.Object) (string, error) {
	gvk, err := apiutil.GVKForObject(obj, c.Scheme())
	if err != nil {
		return "", fmt.Errorf("finding the kind of %T: %w", obj, err)
	}
	return gvk.Kind, nil
}
