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
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

func TestCheckStripeSecret(t *testing.T) {
	t.Parallel()
	key := types.NamespacedName{Namespace: "rekomi-eu", Name: "stripe"}
	withData := func(data map[string]string) *corev1.Secret {
		s := &corev1.Secret{Data: map[string][]byte{}}
		for k, v := range data {
			s.Data[k] = []byte(v)
		}
		return s
	}
	cases := map[string]struct {
		secret     *corev1.Secret
		wantReason rekomiv1.ConditionReason
		wantMsg    string
	}{
		"a secret key is used":                 {secret: withData(map[string]string{"secret-key": "sk_live_abc"})},
		"a restricted key with a newline":      {secret: withData(map[string]string{"secret-key": "rk_live_abc\n"})},
		"a missing Secret":                     {wantReason: rekomiv1.ReasonStripeSecretNotFound, wantMsg: "Secret rekomi-eu/stripe does not exist"},
		"a Secret without the key":             {secret: withData(map[string]string{"other": "sk_live_abc"}), wantReason: rekomiv1.ReasonStripeSecretNotFound, wantMsg: `Secret rekomi-eu/stripe has no key "secret-key"`},
		"an empty value":                       {secret: withData(map[string]string{"secret-key": ""}), wantReason: rekomiv1.ReasonStripeSecretInvalid, wantMsg: "is not a Stripe secret key"},
		"a publishable key, which is not kept": {secret: withData(map[string]string{"secret-key": "pk_live_abc"}), wantReason: rekomiv1.ReasonStripeSecretInvalid, wantMsg: `key "secret-key" of Secret rekomi-eu/stripe is not a Stripe secret key`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reason, msg, ok := checkStripeSecret(key, "secret-key", tc.secret)
			require.Equal(t, tc.wantReason == "", ok)
			require.Equal(t, tc.wantReason, reason)
			require.Contains(t, msg, tc.wantMsg)
			require.NotContains(t, msg, "abc", "the value is never quoted")
		})
	}
}

func TestReferencesSecret(t *testing.T) {
	t.Parallel()
	region := &rekomiv1.Region{Spec: rekomiv1.RegionSpec{
		Namespace: "rekomi-eu",
		Database:  rekomiv1.RegionDatabase{AdminSecretRef: rekomiv1.SecretKeyReference{Namespace: "rekomi-system", Name: "postgres-admin"}},
		App:       rekomiv1.RegionApp{StripeSecretKeyRef: &rekomiv1.LocalSecretKeyReference{Name: "stripe", Key: "secret-key"}},
	}}
	noStripe := region.DeepCopy()
	noStripe.Spec.App.StripeSecretKeyRef = nil
	cases := map[string]struct {
		region          *rekomiv1.Region
		namespace, name string
		want            bool
	}{
		"the admin Secret": {region: region, namespace: "rekomi-system", name: "postgres-admin", want: true},
		"the Stripe Secret in the Region's namespace": {region: region, namespace: "rekomi-eu", name: "stripe", want: true},
		"a Secret of the Stripe name elsewhere":       {region: region, namespace: "rekomi-system", name: "stripe"},
		"the admin name in the Region's namespace":    {region: region, namespace: "rekomi-eu", name: "postgres-admin"},
		"a Stripe name the Region no longer names":    {region: noStripe, namespace: "rekomi-eu", name: "stripe"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, referencesSecret(tc.region, tc.namespace, tc.name))
		})
	}
}
