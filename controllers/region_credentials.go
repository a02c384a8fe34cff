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
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// secretRetry is how soon a Region waiting for its admin Secret looks again,
// since a Secret without the rekomi.io/watch label is not watched.
const secretRetry = 30 * time.Second

// regionLabel marks the objects that belong to a Region.
const regionLabel = "rekomi.io/region"

// Keys of the credential Secrets besides the basic-auth username and password.
const (
	secretKeyURL      = "url"
	secretKeyDatabase = "database"
	secretKeyHost     = "host"
	secretKeyPort     = "port"
)

// OwnerSecretName and RuntimeSecretName name a Region's credential Secrets,
// kept in its namespace.
func OwnerSecretName(region string) string   { return region + "-db-owner" }
func RuntimeSecretName(region string) string { return region + "-db-runtime" }

// adminURL reads the admin connection URL. ok is false when the Region must
// wait: the condition says why, and err is set only for API failures.
func (r *RegionReconciler) adminURL(ctx context.Context, region *rekomiv1.Region, conds *conditionSet) (string, bool, error) {
	ref := region.Spec.Database.AdminSecretRef
	if msg, allowed := adminSecretAllowed(region, r.OperatorNamespace); !allowed {
		conds.set(rekomiv1.ConditionDatabaseReady, false, rekomiv1.ReasonAdminSecretNotAllowed, msg)
		return "", false, nil
	}
	secret := &corev1.Secret{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		conds.set(rekomiv1.ConditionDatabaseReady, false, rekomiv1.ReasonAdminSecretNotFound,
			fmt.Sprintf("Secret %s/%s does not exist", ref.Namespace, ref.Name))
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading admin Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	raw, found := secret.Data[ref.Key]
	if !found {
		conds.set(rekomiv1.ConditionDatabaseReady, false, rekomiv1.ReasonAdminSecretNotFound,
			fmt.Sprintf("Secret %s/%s has no key %q", ref.Namespace, ref.Name, ref.Key))
		return "", false, nil
	}
	if _, err := pgx.ParseConfig(string(raw)); err != nil {
		// The parse error may quote the URL, password included: say only where.
		conds.set(rekomiv1.ConditionDatabaseReady, false, rekomiv1.ReasonAdminSecretInvalid,
			fmt.Sprintf("key %q of Secret %s/%s is not a PostgreSQL connection URL", ref.Key, ref.Namespace, ref.Name))
		return "", false, nil
	}
	return string(raw), true, nil
}

// adminSecretAllowed says whether region's admin Secret lives where one may:
// in the Region's own namespace or in the operator's. Elsewhere it is not
// read, so naming a Region does not hand the operator's access to every
// Secret of the cluster to whoever may create Regions.
func adminSecretAllowed(region *rekomiv1.Region, operatorNamespace string) (message string, allowed bool) {
	ns := region.Spec.Database.AdminSecretRef.Namespace
	if ns == region.Spec.Namespace || (operatorNamespace != "" && ns == operatorNamespace) {
		return "", true
	}
	where := fmt.Sprintf("the Region's namespace (%s)", region.Spec.Namespace)
	if operatorNamespace != "" {
		where += fmt.Sprintf(" or the operator's (%s)", operatorNamespace)
	}
	return fmt.Sprintf("spec.database.adminSecretRef names Secret %s/%s, which is not read: the admin Secret must be in %s",
		ns, region.Spec.Database.AdminSecretRef.Name, where), false
}

// credentials are the passwords of a Region's owner and runtime roles.
type credentials struct {
	owner, runtime string
}

// ensureCredentials returns the roles' passwords, generating each once and
// keeping it in a Secret before any role uses it, so a failure half-way never
// leaves a password only the database knows. A deleted Secret gets a new
// password, which the next step sets on the role.
func (r *RegionReconciler) ensureCredentials(ctx context.Context, region *rekomiv1.Region, adminURL string) (credentials, error) {
	owner, err := r.ensureCredentialSecret(ctx, region, OwnerSecretName(region.Name), region.Spec.Database.OwnerRole, adminURL)
	if err != nil {
		return credentials{}, err
	}
	runtime, err := r.ensureCredentialSecret(ctx, region, RuntimeSecretName(region.Name), region.Spec.Database.RuntimeRole, adminURL)
	if err != nil {
		return credentials{}, err
	}
	return credentials{owner: owner, runtime: runtime}, nil
}

func (r *RegionReconciler) ensureCredentialSecret(ctx context.Context, region *rekomiv1.Region, name, role, adminURL string) (string, error) {
	secret := &corev1.Secret{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: region.Spec.Namespace, Name: name}, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("reading Secret %s/%s: %w", region.Spec.Namespace, name, err)
	}
	password := string(secret.Data[corev1.BasicAuthPasswordKey])
	if password == "" {
		if password, err = newPassword(r.Rand); err != nil {
			return "", err
		}
	}
	want, err := credentialData(adminURL, region.Spec.Database.Name, role, password)
	if err != nil {
		return "", err
	}
	if secret.Name == "" { // not found
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: region.Spec.Namespace, Name: name, Labels: secretLabels(region.Name)},
			Type:       corev1.SecretTypeBasicAuth,
			Data:       want,
		}
		if err := controllerutil.SetControllerReference(region, secret, r.Client.Scheme()); err != nil {
			return "", err
		}
		if err := r.Client.Create(ctx, secret); err != nil {
			return "", fmt.Errorf("creating Secret %s/%s: %w", secret.Namespace, name, err)
		}
		return password, nil
	}
	if !equalData(secret.Data, want) || !watched(secret) {
		secret.Data = want
		secret.Labels = mergeLabels(secret.Labels, secretLabels(region.Name))
		if err := r.Client.Update(ctx, secret); err != nil {
			return "", fmt.Errorf("updating Secret %s/%s: %w", secret.Namespace, name, err)
		}
	}
	return password, nil
}

// credentialData is a credential Secret's content: basic-auth username and
// password, and a ready connection URL to the Region database on the admin
// URL's server with its connection parameters (sslmode...).
func credentialData(adminURL, database, role, password string) (map[string][]byte, error) {
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parsing admin URL: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil || u.Scheme == "" {
		// A key/value DSN: build a URL from its parts.
		u = &url.URL{Scheme: "postgres"}
	}
	host := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	conn := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(role, password),
		Host:     host,
		Path:     "/" + database,
		RawQuery: u.RawQuery,
	}
	return map[string][]byte{
		corev1.BasicAuthUsernameKey: []byte(role),
		corev1.BasicAuthPasswordKey: []byte(password),
		secretKeyDatabase:           []byte(database),
		secretKeyHost:               []byte(cfg.Host),
		secretKeyPort:               []byte(strconv.Itoa(int(cfg.Port))),
		secretKeyURL:                []byte(conn.String()),
	}, nil
}

func equalData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if string(b[k]) != string(v) {
			return false
		}
	}
	return true
}

// newPassword returns 32 random bytes as unpadded URL-safe base64: 256 bits,
// printable ASCII, nothing that needs quoting in a URL.
func newPassword(rand io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("generating a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
