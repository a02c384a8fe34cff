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

func TestRender(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		action  Action
		want    string
		wantErr string
	}{
		"writes every attribute out in ALTER ROLE": {
			action: Action{Kind: AlterRole, Target: "rekomi_app", Items: runtimeAll},
			want: `ALTER ROLE "rekomi_app" WITH NOSUPERUSER NOINHERIT NOCREATEROLE NOCREATEDB LOGIN ` +
				`NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1 VALID UNTIL 'infinity'`,
		},
		"revokes a membership with its grantor": {
			action: Action{Kind: RevokeMembership, Target: "rekomi_app", Role: "rekomi", Grantor: "postgres"},
			want:   `REVOKE "rekomi" FROM "rekomi_app" GRANTED BY "postgres"`,
		},
		"grants a membership with options": {
			action: Action{Kind: GrantMembership, Target: "admin", Role: "rekomi", Items: []string{"INHERIT TRUE", "SET TRUE"}},
			want:   `GRANT "rekomi" TO "admin" WITH INHERIT TRUE, SET TRUE`,
		},
		"creates the database owned by the owner": {
			action: Action{Kind: CreateDatabase, Target: "rekomi_eu", Role: "rekomi"},
			want:   `CREATE DATABASE "rekomi_eu" OWNER "rekomi"`,
		},
		"revokes CONNECT from the PUBLIC keyword, not a role named PUBLIC": {
			action: Action{Kind: RevokeDatabase, Target: "rekomi_eu", Role: PublicGrantee, Items: []string{"CONNECT"}},
			want:   `REVOKE CONNECT ON DATABASE "rekomi_eu" FROM PUBLIC CASCADE`,
		},
		"qualifies and quotes a table name": {
			action: Action{Kind: GrantTable, Target: `odd "name"`, Role: "rekomi_app", Items: []string{"INSERT", "SELECT"}},
			want:   `GRANT INSERT, SELECT ON TABLE "public"."odd ""name""" TO "rekomi_app"`,
		},
		"quotes the column of a column privilege": {
			action: Action{Kind: RevokeTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"SELECT", "UPDATE(revoked_at)"}},
			want:   `REVOKE SELECT, UPDATE ("revoked_at") ON TABLE "public"."api_keys" FROM "rekomi_app" CASCADE`,
		},
		"refuses a column privilege on a database": {
			action:  Action{Kind: GrantDatabase, Target: "rekomi_eu", Role: "rekomi_app", Items: []string{"UPDATE(x)"}},
			wantErr: "unexpected item",
		},
		"refuses a column that is not an identifier": {
			action:  Action{Kind: GrantTable, Target: "t", Role: "rekomi_app", Items: []string{"UPDATE(a) ON t TO PUBLIC; --)"}},
			wantErr: "unexpected item",
		},
		"refuses a privilege that is not a keyword": {
			action:  Action{Kind: GrantTable, Target: "t", Role: "rekomi_app", Items: []string{"SELECT; DROP TABLE t"}},
			wantErr: "unexpected item",
		},
		"refuses an attribute that is not a keyword": {
			action:  Action{Kind: AlterRole, Target: "rekomi_app", Items: []string{"PASSWORD 'x'"}},
			wantErr: "unexpected item",
		},
		"refuses a password for a role outside the spec": {
			action:  Action{Kind: SetPassword, Target: "postgres"},
			wantErr: "no password",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec, err := validSpec().normalized()
			require.NoError(t, err)
			got, err := render(tc.action, spec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRenderPasswordSendsAVerifierOnly(t *testing.T) {
	t.Parallel()
	spec, err := validSpec().normalized()
	require.NoError(t, err)
	for _, a := range []Action{
		{Kind: CreateRole, Target: "rekomi", Items: ownerAll},
		{Kind: SetPassword, Target: "rekomi_app"},
	} {
		sql, err := render(a, spec)
		require.NoError(t, err)
		require.NotContains(t, sql, spec.Owner.Password)
		require.NotContains(t, sql, spec.Runtime.Password)
		_, quoted, ok := strings.Cut(sql, " PASSWORD '")
		require.True(t, ok, sql)
		require.Regexp(t, verifierRE, strings.TrimSuffix(quoted, "'"))
		require.NotContains(t, a.String(), "SCRAM")
	}
}
