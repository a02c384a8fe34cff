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
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/keyring"
)

// appDeployment runs `rekomi app` as the runtime role, with the key ring
// mounted read-only, hardened, and placed as the Region asks.
// runtimeHash, the SHA-256 of the runtime role's password, is annotated on
// the pod template: the app reads DATABASE_URL at start, so a new password
// (its Secret deleted and made again) must roll the pods.
func (r *RegionReconciler) appDeployment(region *rekomiv1.Region, runtimeHash string) *appsv1.Deployment {
	image := region.Spec.App.Image
	if image == "" {
		image = r.AppImage
	}
	pod := corev1.PodSpec{
		ServiceAccountName:           appName(region.Name),
		AutomountServiceAccountToken: ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: ptr.To(true),
			RunAsUser:    ptr.To[int64](65532),
			RunAsGroup:   ptr.To[int64](65532),
			// The key ring's files (mode 0440) belong to this group, so
			// that the app's user reads them; without it they are root's.
			FSGroup:        ptr.To[int64](65532),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{appContainer(region, image)},
		Volumes: []corev1.Volume{
			{Name: "keyring", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: KeyRingSecretName(region.Name), DefaultMode: ptr.To[int32](0o440),
			}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	if p := region.Spec.Placement; p != nil {
		pod.NodeSelector = p.NodeSelector
		pod.Tolerations = p.Tolerations
		pod.Affinity = p.Affinity
		pod.TopologySpreadConstraints = p.TopologySpreadConstraints
	}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: appLabels(region), Annotations: map[string]string{runtimeHashAnno: runtimeHash}},
		Spec:       pod,
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: appMeta(region),
		Spec: appsv1.DeploymentSpec{
			Replicas: region.Spec.App.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: appLabels(region)},
			// A rollout (a new image, a new runtime password) adds a ready
			// pod before it takes one away, so the replicas serving never
			// drop below spec.app.replicas.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			Template: tmpl,
		},
	}
}

// runtimeHashAnno carries, on the app's pod template, the SHA-256 of the
// runtime role's password.
const runtimeHashAnno = "rekomi.io/database-password-sha256"

func appContainer(region *rekomiv1.Region, image string) corev1.Container {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("http"),
		}}}
	}
	c := corev1.Container{
		Name:  "app",
		Image: image,
		Args:  []string{"app"},
		Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: appPort, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: appMetricsPort, Protocol: corev1.ProtocolTCP},
		},
		Env: []corev1.EnvVar{
			{Name: "DATABASE_URL", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: RuntimeSecretName(region.Name)},
				Key:                  secretKeyURL,
			}}},
			{Name: "REKOMI_REGION", Value: region.Name},
			{Name: "REKOMI_LOCATION", Value: string(region.Spec.Location)},
			{Name: "REKOMI_PUBLIC_BASE_URL", Value: region.Spec.App.PublicBaseURL},
			{Name: "REKOMI_KEYRING_FILE", Value: keyRingDir + "/" + keyring.SecretKey},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "keyring", MountPath: keyRingDir, ReadOnly: true},
			{Name: "tmp", MountPath: "/tmp"},
		},
		// A pod being deleted keeps serving while kube-proxy and load
		// balancers drop it from the Service, then drains on SIGTERM.
		Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
		LivenessProbe:  probe("/healthz"),
		ReadinessProbe: probe("/readyz"),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	if res := region.Spec.App.Resources; res != nil {
		c.Resources = *res
	}
	if proxies := trustedProxies(region); proxies != "" {
		c.Env = append(c.Env, corev1.EnvVar{Name: "REKOMI_TRUSTED_PROXIES", Value: proxies})
	}
	return c
}

// trustedProxies is the Region's spec.app.trustedProxies as the app's
// --trusted-proxies takes them: comma-separated; "" for none.
func trustedProxies(region *rekomiv1.Region) string {
	out := make([]string, len(region.Spec.App.TrustedProxies))
	for i, p := range region.Spec.App.TrustedProxies {
		out[i] = string(p)
	}
	return strings.Join(out, ",")
}
