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

package devstack

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

// waitStripeKey waits until the Stripe key an Organization names (the
// samples put one in each organization's bound namespace) is stored,
// sealed, in its row, so that the stack is printed with Stripe Connect
// payouts on.
func (s *Stack) waitStripeKey(ctx context.Context, org *rekomiv1.Organization) error {
	return poll(ctx, "the Stripe key of Organization "+org.Name, func(ctx context.Context) (bool, string) {
		got := &rekomiv1.Organization{}
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(org), got); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(got.Status.Conditions, string(rekomiv1.ConditionStripeKeyReady))
		if c == nil {
			return false, "no StripeKeyReady condition yet"
		}
		return c.Status == metav1.ConditionTrue, string(c.Reason) + ": " + c.Message
	})
}
