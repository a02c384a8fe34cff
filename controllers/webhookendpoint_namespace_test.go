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
)

func TestNotBound(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		labels  map[string]string
		wantMsg string // empty: bound
	}{
		"A namespace labelled with the organization is bound": {
			labels: map[string]string{"rekomi.io/organization": "acme", "team": "billing"},
		},
		"A namespace without labels is not bound": {
			wantMsg: "namespace shop does not carry the label rekomi.io/organization: acme, which binds it to Organization acme; whoever may update namespaces can set it",
		},
		"Other labels do not bind": {
			labels:  map[string]string{"organization": "acme"},
			wantMsg: "does not carry the label rekomi.io/organization: acme",
		},
		"A namespace bound to another organization is not bound to this one": {
			labels:  map[string]string{"rekomi.io/organization": "globex"},
			wantMsg: "namespace shop carries rekomi.io/organization: globex, not rekomi.io/organization: acme, which binds it to Organization acme",
		},
		"An empty value binds nothing": {
			labels:  map[string]string{"rekomi.io/organization": ""},
			wantMsg: "carries rekomi.io/organization: , not rekomi.io/organization: acme",
		},
		"The value is compared exactly": {
			labels:  map[string]string{"rekomi.io/organization": "Acme"},
			wantMsg: "not rekomi.io/organization: acme",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msg, unbound := notBound("shop", tc.labels, "acme")
			if tc.wantMsg == "" {
				require.False(t, unbound)
				require.Empty(t, msg)
				return
			}
			require.True(t, unbound)
			require.Contains(t, msg, tc.wantMsg)
		})
	}
}
