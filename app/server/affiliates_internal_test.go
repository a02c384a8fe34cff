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

package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAffiliateTransition(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		action, from, to string
		changed, refused bool
	}{
		"approving a pending affiliate activates it":     {"approve", "pending", "active", true, false},
		"approving a suspended affiliate reactivates it": {"approve", "suspended", "active", true, false},
		"approving an active affiliate changes nothing":  {"approve", "active", "active", false, false},
		"approving an invited affiliate is refused":      {"approve", "invited", "invited", false, true},
		"suspending an active affiliate":                 {"suspend", "active", "suspended", true, false},
		"suspending a pending affiliate":                 {"suspend", "pending", "suspended", true, false},
		"suspending a suspended one changes nothing":     {"suspend", "suspended", "suspended", false, false},
		"suspending an invited affiliate is refused":     {"suspend", "invited", "invited", false, true},
	}
	for name, tc := range cases {
		to, changed, err := affiliateTransition(tc.action, tc.from)
		require.Equal(t, tc.to, to, name)
		require.Equal(t, tc.changed, changed, name)
		var conflict problemError
		require.Equal(t, tc.refused, errors.As(err, &conflict) && conflict.Status == http.StatusConflict, name)
		if !tc.refused {
			require.NoError(t, err, name)
		}
	}
	_, _, err := affiliateTransition("delete", "active")
	require.Error(t, err)
}

func TestNewInviteToken(t *testing.T) {
	t.Parallel()
	token, hash, err := newInviteToken(bytes.NewReader(bytes.Repeat([]byte{0xff}, 32)))
	require.NoError(t, err)
	require.Equal(t, "rk_inv_"+strings.Repeat("_", 42)+"8", token)
	require.Equal(t, sha256.Sum256([]byte(token)), hash)
	_, _, err = newInviteToken(bytes.NewReader(make([]byte, 31)))
	require.Error(t, err, "a short read is an error, not a weak token")
}
