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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/keyring"
)

// Names and paths of a Region's app objects.
func KeyRingSecretName(region string) string { return region + "-keyring" }
func appName(region string) string           { return region + "-app" }

const (
	appPort = 8080
	// appMetricsPort serves the app's /metrics (the app's default
	// --metrics-address); the Service does not expose it.
	appMetricsPort = 9090
	keyRingDir     = "/etc/rekomi/keyring"
	appNameLabel   = "app.kubernetes.io/name"
	appNameValue   = "rekomi-app"
)

// ensureKeyRing creates the Region's key ring Secret once; an existing one is
// never replaced, since it decrypts stored secrets (one written before the
// operator labelled its Secrets gets the label).
func (r *RegionReconciler) ensureKeyRing(ctx context.Context, region *rekomiv1.Region) error {
	key := types.NamespacedName{Namespace: region.Spec.Namespace, Name: KeyRingSecretName(region.Name)}
	existing := &corev1.Secret{}
	err := r.Client.Get(ctx, key, existing)
	if err == nil && !watched(existing) && metav1.IsControlledBy(existing, region) {
		existing.Labels = mergeLabels(existing.Labels, secretLabels(region.Name))
		if err := r.Client.Update(ctx, existing); err != nil {
			return fmt.Errorf("labelling key ring Secret of region %s: %w", region.Name, err)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return err
	}
	ring, err := keyring.GenerateAt(r.Rand, time.Now())
	if err != nil {
		return fmt.Errorf("generating key ring of region %s: %w", region.Name, err)
	}
	data, err := ring.Marshal()
	if err != nil {
		return fmt.Errorf("encoding key ring of region %s: %w", region.Name, err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: secretLabels(region.Name)},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{keyring.SecretKey: data},
	}
	if err := controllerutil.SetControllerReference(region, secret, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("creating key ring Secret of region %s: %w", region.Name, err)
	}
	return nil
}

// hashOf is the hex SHA-256 of a secret value, which a pod template
// carries so that a new value rolls the pods that read it only at start.
func hashOf[T string | []byte](secret T) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// reconcileApp applies the app's ServiceAccount, Service,
// PodDisruptionBudget and Deployment, and reports AppAvailable from the
// Deployment.
func (r *RegionReconciler) reconcileApp(ctx context.Context, region *rekomiv1.Region, runtimePassword string, conds *conditionSet) error {
	for _, obj := range []client.Object{appServiceAccount(region), appService(region), appPDB(region)} {
		if err := r.apply(ctx, region, obj); err != nil {
			return err
		}
	}
	witnessKey, err := r.witnessPublicKey(ctx)
	if err != nil {
		return err
	}
	desired := r.appDeployment(region, hashOf(runtimePassword))
	withAuditWitness(region, witnessKey, &desired.Spec.Template)
	withTrust(region, &desired.Spec.Template)
	if err := r.apply(ctx, region, desired); err != nil {
		return err
	}
	dep := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), dep); err != nil {
		return fmt.Errorf("reading app Deployment of region %s: %w", region.Name, err)
	}
	available, msg := deploymentAvailable(dep)
	reason := rekomiv1.ReasonReconciled
	if !available {
		reason = rekomiv1.ReasonProgressing
	}
	conds.set(rekomiv1.ConditionAppAvailable, available, reason, msg)
	return nil
}

func deploymentAvailable(dep *appsv1.Deployment) (bool, string) {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue,
				fmt.Sprintf("%d of %d replicas available: %s", dep.Status.AvailableReplicas, ptr.Deref(dep.Spec.Replicas, 1), c.Message)
		}
	}
	return false, fmt.Sprintf("Deployment %s has not reported availability yet", dep.Name)
}

// apply server-side applies obj, owned by the Region. A no-op apply writes
// nothing, so a reconcile with nothing to change changes nothing.
func (r *RegionReconciler) apply(ctx context.Context, region *rekomiv1.Region, obj client.Object) error {
	if err := controllerutil.SetControllerReference(region, obj, r.Client.Scheme()); err != nil {
		return err
	}
	gvk, err := r.Client.GroupVersionKindFor(obj)
	if err != nil {
		return err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("converting %T: %w", obj, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), regionFieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func appLabels(region *rekomiv1.Region) map[string]string {
	return map[string]string{appNameLabel: appNameValue, regionLabel: region.Name}
}

func appMeta(region *rekomiv1.Region) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: region.Spec.Namespace, Name: appName(region.Name), Labels: appLabels(region)}
}

func appServiceAccount(region *rekomiv1.Region) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   appMeta(region),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

func appService(region *rekomiv1.Region) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: appMeta(region),
		Spec: corev1.ServiceSpec{
			Selector: appLabels(region),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

func appPDB(region *rekomiv1.Region) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: appMeta(region),
		Spec: policyv1.PodDisruptionBudgetSpec{
			// One pod at a time, whatever the replica count: a drain never
			// takes the Region down, and a single replica can still move.
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: appLabels(region)},
		},
	}
}
