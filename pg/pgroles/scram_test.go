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

package pgroles

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pgVerifier was stored by PostgreSQL 15 for the password below.
const (
	pgPassword = "correct horse battery staple"
	pgVerifier = "SCRAM-SHA-256$4096:nm1kGzR+JIrGhEnUW+7RzA==$" +
		"o3d97naylEpOC77hpxp/T/PkawFqfNpPCMi/FIWvH+I=:UmFK/MosW7pL1mppQYJ4/G8u/O/ihQR9gKuwM/L4+DA="
)

func TestVerifierMatches(t *testing.T) {
	t.Parallel()
	fresh, err := newVerifier(pgPassword)
	require.NoError(t, err)

	tests := map[string]struct {
		stored, password string
		want             bool
		wantErr          error
	}{
		"accepts the verifier PostgreSQL stored for the password": {
			stored: pgVerifier, password: pgPassword, want: true,
		},
		"rejects another password against PostgreSQL's verifier": {
			stored: pgVerifier, password: pgPassword + "!", want: false,
		},
		"accepts a verifier computed here": {
			stored: fresh, password: pgPassword, want: true,
		},
		"reports an MD5 hash as not SCRAM": {
			stored: "md5242ab783befa67512d3b3df54119db2c", password: "x", wantErr: errNotSCRAM,
		},
		"reports a verifier with a short key as not SCRAM": {
			stored: "SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:c2hvcnQ=", password: "x", wantErr: errNotSCRAM,
		},
		"reports a verifier without iterations as not SCRAM": {
			stored: strings.Replace(pgVerifier, "4096", "x", 1), password: pgPassword, wantErr: errNotSCRAM,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := verifierMatches(tc.stored, tc.password)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNewVerifierHasPostgresFormAndFreshSalt(t *testing.T) {
	t.Parallel()
	a, err := newVerifier(pgPassword)
	require.NoError(t, err)
	b, err := newVerifier(pgPassword)
	require.NoError(t, err)
	require.Regexp(t, verifierRE, a)
	require.True(t, strings.HasPrefix(a, "SCRAM-SHA-256$4096:"))
	require.NotEqual(t, a, b, "each verifier needs its own salt")
	require.NotContains(t, a, pgPassword)

	salt, iterations, _, _, err := parseVerifier(a)
	require.NoError(t, err)
	require.Len(t, salt, scramSaltLen)
	require.Equal(t, scramIterations, iterations)
}
