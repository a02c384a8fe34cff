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

func validSpec() Spec {
	return Spec{
		Database: "rekomi_eu",
		Owner:    Role{Name: "rekomi", Password: "owner-secret-1"},
		Runtime:  Role{Name: "rekomi_app", Password: "runtime-secret-2"},
	}
}

func TestSpecNormalized(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		edit    func(*Spec)
		wantErr string
	}{
		"accepts a valid spec":                       {edit: func(*Spec) {}},
		"refuses an upper-case role name":            {edit: func(s *Spec) { s.Owner.Name = "Rekomi" }, wantErr: "owner role name"},
		"refuses a role name starting with pg_":      {edit: func(s *Spec) { s.Runtime.Name = "pg_app" }, wantErr: "must not start with pg_"},
		"refuses a role name with a quote":           {edit: func(s *Spec) { s.Runtime.Name = `app"x` }, wantErr: "runtime role name"},
		"refuses a 64-byte role name":                {edit: func(s *Spec) { s.Owner.Name = strings.Repeat("a", 64) }, wantErr: "owner role name"},
		"refuses the reserved role name public":      {edit: func(s *Spec) { s.Runtime.Name = "public" }, wantErr: "reserved"},
		"refuses the same role as owner and runtime": {edit: func(s *Spec) { s.Runtime.Name = "rekomi" }, wantErr: "must differ"},
		"refuses the maintenance database":           {edit: func(s *Spec) { s.Database = "postgres" }, wantErr: "reserved"},
		"refuses an empty database name":             {edit: func(s *Spec) { s.Database = "" }, wantErr: "database name"},
		"refuses a schema name starting with pg_":    {edit: func(s *Spec) { s.Schema = "pg_temp" }, wantErr: "schema name"},
		"refuses an empty password":                  {edit: func(s *Spec) { s.Owner.Password = "" }, wantErr: "empty password"},
		"refuses a password that is not ASCII":       {edit: func(s *Spec) { s.Runtime.Password = "pässwort" }, wantErr: "printable ASCII"},
		"refuses a password with a newline":          {edit: func(s *Spec) { s.Runtime.Password = "a\nb" }, wantErr: "printable ASCII"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := validSpec()
			tc.edit(&s)
			got, err := s.normalized()
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, DefaultSchema, got.Schema)
				return
			}
			require.ErrorIs(t, err, ErrInvalidSpec)
			require.ErrorContains(t, err, tc.wantErr)
			for _, pw := range []string{s.Owner.Password, s.Runtime.Password} {
				if pw != "" {
					require.NotContains(t, err.Error(), pw)
				}
			}
		})
	}
}

func TestValidateGrants(t *testing.T) {
	t.Parallel()
	got, err := validateGrants(map[string][]Privilege{"audit_log": {Insert, Select, Insert}, "empty": nil})
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"audit_log": {"INSERT", "SELECT"}, "empty": nil}, got)

	_, err = validateGrants(map[string][]Privilege{"audit_log": {"TRUNCATE"}})
	require.ErrorIs(t, err, ErrInvalidSpec)
	_, err = validateGrants(map[string][]Privilege{"": {Select}})
	require.ErrorIs(t, err, ErrInvalidSpec)
}
