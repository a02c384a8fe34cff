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
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

func TestStripeKeyAction(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		stored string
		sealed bool
		want   string
		action string
	}{
		"nothing stored, nothing wanted":           {action: ""},
		"a first key is set":                       {want: "sk_test_a", action: actionStripeKeySet},
		"the same key is not sealed again":         {stored: "sk_test_a", sealed: true, want: "sk_test_a", action: ""},
		"a new key is set":                         {stored: "sk_test_a", sealed: true, want: "sk_test_b", action: actionStripeKeySet},
		"a key that does not open is set again":    {sealed: true, want: "sk_test_a", action: actionStripeKeySet},
		"a key no longer wanted is removed":        {stored: "sk_test_a", sealed: true, action: actionStripeKeyRemoved},
		"a key that does not open is also removed": {sealed: true, action: actionStripeKeyRemoved},
	} {
		if got := stripeKeyAction(tc.stored, tc.sealed, tc.want); got != tc.action {
			t.Errorf("%s: got %q, want %q", name, got, tc.action)
		}
	}
}

func TestCheckStripeSecret(t *testing.T) {
	t.Parallel()
	name := types.NamespacedName{Namespace: "acme", Name: "stripe"}
	const key = "sk_live_51SecretPart0123456789"
	for desc, tc := range map[string]struct {
		secret *corev1.Secret
		reason rekomiv1.ConditionReason
		key    string
	}{
		"a missing Secret":       {reason: rekomiv1.ReasonStripeSecretNotFound},
		"a Secret without a key": {secret: &corev1.Secret{Data: map[string][]byte{"other": []byte(key)}}, reason: rekomiv1.ReasonStripeSecretNotFound},
		"a publishable key":      {secret: &corev1.Secret{Data: map[string][]byte{"secret-key": []byte("pk_live_51SecretPart")}}, reason: rekomiv1.ReasonStripeSecretInvalid},
		"a secret key":           {secret: &corev1.Secret{Data: map[string][]byte{"secret-key": []byte(" " + key + "\n")}}, reason: rekomiv1.ReasonReconciled, key: key},
	} {
		got := checkStripeSecret(name, "secret-key", tc.secret)
		if got.reason != tc.reason || got.key != tc.key || got.ready != (tc.key != "") {
			t.Errorf("%s: got reason %s, ready %t", desc, got.reason, got.ready)
		}
		for _, part := range []string{"SecretPart", "51Secret"} {
			if strings.Contains(got.message, part) {
				t.Errorf("%s: the message quotes the key: %s", desc, got.message)
			}
		}
	}
}
