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
	"crypto/ed25519"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// auditWitnessDir is where the app's pods find the audit witness shards,
// one file per organization UUID.
const auditWitnessDir = "/etc/rekomi/audit-witness"

// witnessPublicKey is the base64 public key the operator signs audit
// witnesses with, the key made when absent; "" when the operator has no
// namespace to keep it in, and so witnesses nothing.
func (r *RegionReconciler) witnessPublicKey(ctx context.Context) (string, error) {
	if r.OperatorNamespace == "" {
		return "", nil
	}
	key, err := ensureWitnessKey(ctx, r.Client, r.Rand, r.OperatorNamespace)
	if err != nil {
		return "", fmt.Errorf("reading the audit witness key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), nil
}

// withAuditWitness mounts the Region's audit witness shards read-only (each
// optional: a shard exists only while it holds a witness) and tells the app
// where they are and which key signs them. The kubelet updates the files
// in place as the shards change. Nothing is added without a key.
func withAuditWitness(region *rekomiv1.Region, publicKey string, tmpl *corev1.PodTemplateSpec) {
	if publicKey == "" {
		return
	}
	sources := make([]corev1.VolumeProjection, witnessShardCount)
	for i := range sources {
		sources[i] = corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: WitnessShardName(region.Name, i)},
			Optional:             ptr.To(true),
		}}
	}
	pod := &tmpl.Spec
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "audit-witness", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: ptr.To[int32](0o444)},
	}})
	for i := range pod.Containers {
		c := &pod.Containers[i]
		if c.Name != "app" {
			continue
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "audit-witness", MountPath: auditWitnessDir, ReadOnly: true})
		c.Env = append(c.Env,
			corev1.EnvVar{Name: "REKOMI_AUDIT_WITNESS_DIR", Value: auditWitnessDir},
			corev1.EnvVar{Name: "REKOMI_AUDIT_WITNESS_PUBLIC_KEY", Value: publicKey})
	}
}
