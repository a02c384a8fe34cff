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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/apikey"
)

// AdminKeySecretKey is the key of the admin API key in its Secret.
const AdminKeySecretKey = "api-key"

// organizationAnnotation names the Organization an object belongs to (an
// annotation, since an Organization's name may be longer than a label value).
const organizationAnnotation = "rekomi.io/organization"

// AdminKeySecretName names the Secret, in the Region's namespace, that
// delivers an organization's first admin API key.
func AdminKeySecretName(org string) string { return org + "-admin-api-key" }

// adminKeySecret returns the admin key to store, from its Secret. The Secret
// is written first, so a failure before the key's rows are stored loses
// nothing: the next pass stores the same key. A Secret with no usable key
// gets a new one, which is safe because no row holds its hash yet. Only a
// Secret the Organization controls is read or written: for one it does not,
// notOwned says why no key is issued, and the Secret is left as it is.
func (r *OrganizationReconciler) adminKeySecret(ctx context.Context, org *rekomiv1.Organization, region *rekomiv1.Region) (key, notOwned string, err error) {
	name := types.NamespacedName{Namespace: region.Spec.Namespace, Name: AdminKeySecretName(org.Name)}
	secret := &corev1.Secret{}
	err = r.Client.Get(ctx, name, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return "", "", fmt.Errorf("reading Secret %s: %w", name, err)
	}
	found := err == nil
	if found && !metav1.IsControlledBy(secret, org) {
		return "", adminKeySecretNotOwned(name, org), nil
	}
	if found {
		if key := string(secret.Data[AdminKeySecretKey]); validKey(key) {
			return key, "", nil
		}
	}
	if key, _, err = apikey.Generate(r.Rand); err != nil {
		return "", "", err
	}
	if found { // ours, with no usable key
		secret.Data = map[string][]byte{AdminKeySecretKey: []byte(key)}
		if err := r.Client.Update(ctx, secret); err != nil {
			return "", "", fmt.Errorf("updating Secret %s: %w", name, err)
		}
		return key, "", nil
	}
	return key, "", r.createAdminKeySecret(ctx, org, region, name, key)
}

// adminKeySecretNotOwned is the condition message of an admin key Secret
// that another owner (or nobody) controls.
func adminKeySecretNotOwned(name types.NamespacedName, org *rekomiv1.Organization) string {
	return fmt.Sprintf("Secret %s exists and is not controlled by Organization %s: its content is neither used as the "+
		"organization's admin API key nor overwritten; remove or rename it and the key is issued there", name, org.Name)
}

// createAdminKeySecret delivers key in a new Secret controlled by org.
func (r *OrganizationReconciler) createAdminKeySecret(ctx context.Context, org *rekomiv1.Organization, region *rekomiv1.Region,
	name types.NamespacedName, key string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   name.Namespace,
			Name:        name.Name,
			Labels:      mergeLabels(secretLabels(region.Name), map[string]string{credentialLabel: "admin-api-key"}),
			Annotations: map[string]string{organizationAnnotation: org.Name},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{AdminKeySecretKey: []byte(key)},
	}
	if err := controllerutil.SetControllerReference(org, secret, r.Client.Scheme()); err != nil {
		return err
	}
	if err := r.Client.Create(ctx, secret); err != nil {
		// AlreadyExists included: a cache behind the API server must not
		// lead to a second key; the next pass reads the stored one.
		return fmt.Errorf("creating Secret %s: %w", name, err)
	}
	return nil
}

// credentialLabel says what a credential Secret holds.
const credentialLabel = "rekomi.io/credential"

func validKey(key string) bool {
	_, err := apikey.Parse(key)
	return err == nil
}

// deleteAdminKeySecret removes the Secret of a purged organization: the key
// it holds no longer exists. A Secret of that name the organization does not
// control is left alone.
func (r *OrganizationReconciler) deleteAdminKeySecret(ctx context.Context, org *rekomiv1.Organization, region *rekomiv1.Region) error {
	name := types.NamespacedName{Namespace: region.Spec.Namespace, Name: AdminKeySecretName(org.Name)}
	secret := &corev1.Secret{}
	if err := r.Client.Get(ctx, name, secret); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(secret, org) {
		return nil
	}
	if err := r.Client.Delete(ctx, secret); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Secret %s: %w", name, err)
	}
	return nil
}
