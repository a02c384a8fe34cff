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

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
)

func TestOrganizationID(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	ready := []metav1.Condition{{Type: string(rekomiv1.ConditionReady), Status: metav1.ConditionTrue}}
	notReady := []metav1.Condition{{Type: string(rekomiv1.ConditionReady), Status: metav1.ConditionFalse}}
	cases := map[string]struct {
		status   rekomiv1.OrganizationStatus
		ready    bool
		wantID   uuid.UUID
		wantMsg  string // empty: no wait
		wantGone bool
	}{
		"A Ready organization with an id is used": {
			status: rekomiv1.OrganizationStatus{ID: id.String(), Conditions: ready}, ready: true, wantID: id,
		},
		"An organization without an id is waited for, and holds no row": {
			status: rekomiv1.OrganizationStatus{Conditions: ready}, ready: true, wantMsg: "has no id yet", wantGone: true,
		},
		"An id that is not a UUID is refused": {
			status: rekomiv1.OrganizationStatus{ID: "acme", Conditions: ready}, ready: true, wantMsg: "not a UUID", wantGone: true,
		},
		"An organization that is not Ready is waited for": {
			status: rekomiv1.OrganizationStatus{ID: id.String(), Conditions: notReady}, ready: true, wantMsg: "is not Ready",
		},
		"An organization without conditions is not Ready": {
			status: rekomiv1.OrganizationStatus{ID: id.String()}, ready: true, wantMsg: "is not Ready",
		},
		"Deletion needs only the id": {
			status: rekomiv1.OrganizationStatus{ID: id.String(), Conditions: notReady}, wantID: id,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			org := &rekomiv1.Organization{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Status: tc.status}
			got, w := organizationID(org, tc.ready)
			if tc.wantMsg == "" {
				require.Nil(t, w)
				require.Equal(t, tc.wantID, got)
				return
			}
			require.NotNil(t, w)
			require.Equal(t, rekomiv1.ReasonDependencyNotReady, w.reason)
			require.Contains(t, w.message, tc.wantMsg)
			require.Equal(t, tc.wantGone, w.gone)
		})
	}
}
