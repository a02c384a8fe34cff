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

package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAppendStoresAnyUserAgent checks that a user agent, which the client
// chooses byte for byte, is stored made storable and never fails the
// append (and so the change it records).
func TestAppendStoresAnyUserAgent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for name, tc := range map[string]struct{ sent, stored string }{
		"invalid UTF-8 is replaced":            {"curl\xff\xfe/8", "curl\uFFFD/8"},
		"a NUL is removed":                     {"curl\x00/8", "curl/8"},
		"a long one is cut on a character":     {strings.Repeat("a", 1023) + "éé", strings.Repeat("a", 1023) + "é"},
		"the limit counts characters":          {strings.Repeat("é", 1025), strings.Repeat("é", 1024)},
		"a valid one is kept as it was sent":   {"Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)"},
		"one of invalid bytes alone is stored": {"\xff\xfe", "\uFFFD"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			org := b.newOrg(t)
			e := entry(1)
			e.UserAgent = tc.sent
			rec := b.append(t, org, e)
			var plain *string
			require.NoError(t, b.admin.QueryRow(ctx, "SELECT user_agent FROM audit_log WHERE org_id = $1 AND seq = $2",
				org, rec.Seq).Scan(&plain))
			require.Nil(t, plain, "the user agent is sealed, not stored in plaintext")
			p, err := b.opened(t, org, rec.Seq)
			require.NoError(t, err)
			require.Equal(t, tc.stored, p.UserAgent)
			v := b.verify(t, org)
			require.True(t, v.OK(), v.Detail)
		})
	}
}
