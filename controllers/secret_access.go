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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// LimitSecretAccess returns opts with the manager's reach over Secrets cut
// to what the controllers need: its cache (and so every watch on Secrets)
// holds only the Secrets labelled rekomi.io/watch=true, which include all
// that the operator writes, and its client reads any Secret from the API
// server by name, never from the cache, so that a Secret a spec names is
// found whether it is labelled or not. No Secret of the cluster is held in
// memory unless it carries the label; the ClusterRole still allows reading
// any, since RBAC cannot grant by label (README, Security model).
func LimitSecretAccess(opts ctrl.Options) ctrl.Options {
	byObject := make(map[client.Object]cache.ByObject, len(opts.Cache.ByObject)+1)
	for obj, by := range opts.Cache.ByObject {
		byObject[obj] = by
	}
	byObject[&corev1.Secret{}] = cache.ByObject{Label: labels.SelectorFromSet(labels.Set{rekomiv1.WatchLabel: "true"})}
	opts.Cache.ByObject = byObject

	var uncached client.CacheOptions
	if opts.Client.Cache != nil {
		uncached = *opts.Client.Cache
	}
	uncached.DisableFor = append(append([]client.Object(nil), uncached.DisableFor...), &corev1.Secret{})
	opts.Client.Cache = &uncached
	return opts
}

// secretLabels are the labels of a Secret the operator writes for region:
// the Region it belongs to, and the label that lets the operator watch it.
func secretLabels(region string) map[string]string {
	return map[string]string{regionLabel: region, rekomiv1.WatchLabel: "true"}
}

// watched reports whether a Secret carries the label that puts it in the
// operator's cache.
func watched(secret *corev1.Secret) bool {
	return secret.Labels[rekomiv1.WatchLabel] == "true"
}

// mergeLabels returns have with want's labels set over it.
func mergeLabels(have, want map[string]string) map[string]string {
	out := make(map[string]string, len(have)+len(want))
	for k, v := range have {
		out[k] = v
	}
	for k, v := range want {
		out[k] = v
	}
	return out
}
