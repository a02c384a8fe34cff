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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/trust"
)

// TrustKeySecretName is the Secret holding the Ed25519 key with which a
// Region's app signs its /trust.json.
func TrustKeySecretName(region string) string { return region + "-trust-key" }

// TrustKeySecretKey is the key of the Secret's PEM (PKCS #8) private key.
const TrustKeySecretKey = "private-key.pem"

// trustKeyDir is where the app's pods find the trust key.
const trustKeyDir = "/etc/rekomi/trust-key"

// Reasons of the trust key's events.
const (
	reasonTrustKeyRefused  = "TrustKeyRefused"
	reasonTrustKeyReplaced = "TrustKeyReplaced"
)

// ensureTrustKey creates the Region's trust key Secret once and reports its
// public key in status.trustPublicKey. The key changes only when its
// Secret is deleted, which a Warning event records with both keys; the
// statements customers archived still verify with the key they archived.
// A Secret whose key is not the published one, or that the Region does
// not control, is refused, not signed with: pods keep the key they read
// at start until it is deleted.
func (r *RegionReconciler) ensureTrustKey(ctx context.Context, region *rekomiv1.Region) error {
	name := types.NamespacedName{Namespace: region.Spec.Namespace, Name: TrustKeySecretName(region.Name)}
	published := region.Status.TrustPublicKey
	refuse := func(why string) error {
		r.Recorder.Eventf(region, nil, corev1.EventTypeWarning, reasonTrustKeyRefused, "SignStatements", "%s", why)
		return errors.New(why)
	}
	existing := &corev1.Secret{}
	err := r.Client.Get(ctx, name, existing)
	switch {
	case err == nil:
		if !metav1.IsControlledBy(existing, region) {
			return refuse(fmt.Sprintf("Secret %s exists but is not region %s's: delete it, and the operator makes a trust key", name, region.Name))
		}
		key, err := trust.ParseKey(existing.Data[TrustKeySecretKey])
		if err != nil {
			return refuse(fmt.Sprintf("Secret %s: %q: %v: delete it, and the operator makes a new trust key", name, TrustKeySecretKey, err))
		}
		if got := trust.PublicKeyString(key); published != "" && got != published {
			return refuse(fmt.Sprintf("Secret %s holds key %s, not %s, which status.trustPublicKey publishes: "+
				"delete it, and the operator makes a new trust key", name, got, published))
		}
		region.Status.TrustPublicKey = trust.PublicKeyString(key)
		return nil
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading the trust key of region %s: %w", region.Name, err)
	}
	key, data, err := trust.GenerateKey(r.Rand)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name, Labels: secretLabels(region.Name)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{TrustKeySecretKey: data},
	}
	if err := controllerutil.SetControllerReference(region, secret, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating the trust key Secret of region %s: %w", region.Name, err)
	}
	region.Status.TrustPublicKey = trust.PublicKeyString(key)
	if published != "" {
		r.Recorder.Eventf(region, nil, corev1.EventTypeWarning, reasonTrustKeyReplaced, "SignStatements",
			"Secret %s was deleted: statements are now signed with %s; those signed before verify with %s", name, region.Status.TrustPublicKey, published)
	}
	return nil
}

// trustKeyAnno carries, on the app's pod template, the trust key's public
// half: the app reads the key at start, so a new key (its Secret deleted
// and made again) rolls the pods onto it.
const trustKeyAnno = "rekomi.io/trust-public-key"

// withTrust mounts the trust key read-only and tells the app what its
// /trust page states from the Region's spec: the retention grace period
// and the vulnerability contact.
func withTrust(region *rekomiv1.Region, tmpl *corev1.PodTemplateSpec) {
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	tmpl.Annotations[trustKeyAnno] = region.Status.TrustPublicKey
	pod := &tmpl.Spec
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "trust-key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: TrustKeySecretName(region.Name), DefaultMode: ptr.To[int32](0o440),
	}}})
	for i := range pod.Containers {
		c := &pod.Containers[i]
		if c.Name != "app" {
			continue
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "trust-key", MountPath: trustKeyDir, ReadOnly: true})
		c.Env = append(c.Env,
			corev1.EnvVar{Name: "REKOMI_TRUST_KEY_FILE", Value: trustKeyDir + "/" + TrustKeySecretKey},
			corev1.EnvVar{Name: "REKOMI_RETENTION_GRACE_PERIOD", Value: region.Spec.Retention.GracePeriod.Duration.String()})
		if contact := region.Spec.App.SecurityContact; contact != "" {
			c.Env = append(c.Env, corev1.EnvVar{Name: "REKOMI_SECURITY_CONTACT", Value: contact})
		}
	}
}
