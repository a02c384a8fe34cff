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

package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAffiliateTransition(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		move             affiliateMove
		from, to         AffiliateStatus
		changed, refused bool
	}{
		"approving a pending affiliate activates it":     {affiliateApproval, AffiliatePending, AffiliateActive, true, false},
		"approving a suspended affiliate reactivates it": {affiliateApproval, AffiliateSuspended, AffiliateActive, true, false},
		"approving an active affiliate changes nothing":  {affiliateApproval, AffiliateActive, AffiliateActive, false, false},
		"approving an invited affiliate is refused":      {affiliateApproval, AffiliateInvited, AffiliateInvited, false, true},
		"suspending an active affiliate":                 {affiliateSuspension, AffiliateActive, AffiliateSuspended, true, false},
		"suspending a pending affiliate":                 {affiliateSuspension, AffiliatePending, AffiliateSuspended, true, false},
		"suspending a suspended one changes nothing":     {affiliateSuspension, AffiliateSuspended, AffiliateSuspended, false, false},
		"suspending an invited affiliate is refused":     {affiliateSuspension, AffiliateInvited, AffiliateInvited, false, true},
	}
	for name, tc := range cases {
		to, changed, err := tc.move.next(tc.from)
		require.Equal(t, tc.to, to, name)
		require.Equal(t, tc.changed, changed, name)
		var refusal *Refusal
		require.Equal(t, tc.refused, errors.As(err, &refusal) && refusal.Kind == Conflict && refusal.Code == "conflict", name)
		if !tc.refused {
			require.NoError(t, err, name)
		}
	}
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
