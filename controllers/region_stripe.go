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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/payout"
)

// Where the app's pods find the Stripe secret key, and the pod template
// annotation that changes with it.
const (
	stripeVolume         = "stripe"
	stripeDir            = "/etc/rekomi/stripe"
	stripeFile           = "secret-key"
	stripeKeyHashAnno    = "rekomi.io/stripe-secret-key-sha256"
	stripeSecretKeyField = "spec.app.stripeSecretKeyRef"
)

// stripeKeyHash reads the Secret key named by spec.app.stripeSecretKeyRef
// and returns the SHA-256 of its value, which the pod template carries so
// that a new key replaces the pods (the app reads it at start). It returns
// "" and ok when the Region names no key. ok is false when the app
// Deployment must wait: AppAvailable says why, and err is set only for API
// failures.
func (r *RegionReconciler) stripeKeyHash(ctx context.Context, region *rekomiv1.Region, conds *conditionSet) (string, bool, error) {
	ref := region.Spec.App.StripeSecretKeyRef
	if ref == nil {
		return "", true, nil
	}
	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: ref.Name}
	secret := &corev1.Secret{}
	err := r.Client.Get(ctx, key, secret)
	if apierrors.IsNotFound(err) {
		secret = nil
	} else if err != nil {
		return "", false, fmt.Errorf("reading Stripe Secret %s of region %s: %w", key, region.Name, err)
	}
	if reason, msg, ok := checkStripeSecret(key, ref.Key, secret); !ok {
		conds.set(rekomiv1.ConditionAppAvailable, false, reason,
			fmt.Sprintf("%s: %s; the app Deployment is left as it was until the key can be used", stripeSecretKeyField, msg))
		return "", false, nil
	}
	return hashOf(secret.Data[ref.Key]), true, nil
}

// checkStripeSecret says whether field of the Secret at key (nil when it
// does not exist) holds a Stripe secret key the app will accept, and if not,
// the reason and a message that never quotes the value.
func checkStripeSecret(key types.NamespacedName, field string, secret *corev1.Secret) (rekomiv1.ConditionReason, string, bool) {
	if secret == nil {
		return rekomiv1.ReasonStripeSecretNotFound, fmt.Sprintf("Secret %s does not exist", key), false
	}
	value, found := secret.Data[field]
	if !found {
		return rekomiv1.ReasonStripeSecretNotFound, fmt.Sprintf("Secret %s has no key %q", key, field), false
	}
	if _, err := payout.ParseStripeSecretKey(value); err != nil {
		return rekomiv1.ReasonStripeSecretInvalid,
			fmt.Sprintf("key %q of Secret %s is not a Stripe secret key (sk_... or rk_...)", field, key), false
	}
	return "", "", true
}

// withStripeKey mounts only the Stripe key of the Secret named by
// spec.app.stripeSecretKeyRef, read-only, and points the app at it; hash is
// the SHA-256 of the key's value. A Region that names no key gets nothing.
func withStripeKey(region *rekomiv1.Region, hash string, tmpl *corev1.PodTemplateSpec) {
	ref := region.Spec.App.StripeSecretKeyRef
	if ref == nil {
		return
	}
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	tmpl.Annotations[stripeKeyHashAnno] = hash
	pod := &tmpl.Spec
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: stripeVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName:  ref.Name,
		Items:       []corev1.KeyToPath{{Key: ref.Key, Path: stripeFile}},
		DefaultMode: ptr.To[int32](0o440),
	}}})
	c := &pod.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: "REKOMI_STRIPE_SECRET_KEY_FILE", Value: stripeDir + "/" + stripeFile})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: stripeVolume, MountPath: stripeDir, ReadOnly: true})
}
