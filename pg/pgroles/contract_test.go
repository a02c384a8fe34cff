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
	"testing"

	"github.com/stretchr/testify/require"
)

// provisioned is the catalog after a successful EnsureRoles by a superuser.
func provisioned() provisionFacts {
	return provisionFacts{
		Admin:   adminFacts{User: "postgres", SessionUser: "postgres", Superuser: true, ReadsAuthid: true, ServerVersion: 150000},
		Owner:   roleFacts{Exists: true, Attributes: ownerAttributes()},
		Runtime: roleFacts{Exists: true, Attributes: runtimeAttributes()},
		Database: objectFacts{Exists: true, Owner: "rekomi", Grants: map[string]privileges{
			"rekomi":     {"CREATE": false, "CONNECT": false, "TEMPORARY": false},
			"rekomi_app": {"CONNECT": false},
		}},
	}
}

var (
	ownerAll   = []string{"NOSUPERUSER", "INHERIT", "NOCREATEROLE", "NOCREATEDB", "LOGIN", "NOREPLICATION", "NOBYPASSRLS", "CONNECTION LIMIT -1", "VALID UNTIL 'infinity'"}
	runtimeAll = []string{"NOSUPERUSER", "NOINHERIT", "NOCREATEROLE", "NOCREATEDB", "LOGIN", "NOREPLICATION", "NOBYPASSRLS", "CONNECTION LIMIT -1", "VALID UNTIL 'infinity'"}
)

func TestPlanProvisioning(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		edit    func(*provisionFacts)
		want    []Action
		wantErr error
	}{
		"changes nothing when the catalog matches": {
			edit: func(*provisionFacts) {},
		},
		"creates both roles and the database on an empty cluster": {
			edit: func(f *provisionFacts) {
				f.Owner, f.Runtime, f.Database = roleFacts{}, roleFacts{}, objectFacts{}
			},
			want: []Action{
				{Kind: CreateRole, Target: "rekomi", Items: ownerAll},
				{Kind: CreateRole, Target: "rekomi_app", Items: runtimeAll},
				{Kind: CreateDatabase, Target: "rekomi_eu", Role: "rekomi"},
				{Kind: RevokeDatabase, Target: "rekomi_eu", Role: PublicGrantee, Items: []string{"CONNECT", "TEMPORARY"}},
				{Kind: GrantDatabase, Target: "rekomi_eu", Role: "rekomi_app", Items: []string{"CONNECT"}},
			},
		},
		"writes every attribute out when the runtime role was given BYPASSRLS and INHERIT": {
			edit: func(f *provisionFacts) {
				f.Runtime.Attributes.BypassRLS = true
				f.Runtime.Attributes.Inherit = true
			},
			want: []Action{{Kind: AlterRole, Target: "rekomi_app", Items: runtimeAll}},
		},
		"repairs an owner made SUPERUSER and CREATEROLE": {
			edit: func(f *provisionFacts) {
				f.Owner.Attributes.Superuser = true
				f.Owner.Attributes.CreateRole = true
			},
			want: []Action{{Kind: AlterRole, Target: "rekomi", Items: ownerAll}},
		},
		"repairs an expiry and a connection limit": {
			edit: func(f *provisionFacts) {
				f.Runtime.Attributes.Expires = true
				f.Owner.Attributes.ConnectionLimit = 0
			},
			want: []Action{
				{Kind: AlterRole, Target: "rekomi", Items: ownerAll},
				{Kind: AlterRole, Target: "rekomi_app", Items: runtimeAll},
			},
		},
		"removes the runtime role from every role it was made a member of": {
			edit: func(f *provisionFacts) {
				f.Runtime.MemberOf = []membership{{Role: "rekomi", Grantor: "postgres"}, {Role: "pg_read_all_data"}}
			},
			want: []Action{
				{Kind: RevokeMembership, Target: "rekomi_app", Role: "rekomi", Grantor: "postgres"},
				{Kind: RevokeMembership, Target: "rekomi_app", Role: "pg_read_all_data"},
			},
		},
		"sets passwords that differ or could not be checked": {
			edit: func(f *provisionFacts) {
				f.Owner.Password = passwordUnknown
				f.Runtime.Password = passwordDiffers
			},
			want: []Action{{Kind: SetPassword, Target: "rekomi"}, {Kind: SetPassword, Target: "rekomi_app"}},
		},
		"gives the database back to the owner and fixes who may connect": {
			edit: func(f *provisionFacts) {
				f.Database = objectFacts{Exists: true, Owner: "someone", Grants: map[string]privileges{
					PublicGrantee: {"CONNECT": false, "CREATE": false, "TEMPORARY": false},
					"someone":     {"CREATE": false, "CONNECT": false, "TEMPORARY": false},
					"rekomi_app":  {"CONNECT": true, "CREATE": false},
				}}
			},
			want: []Action{
				{Kind: AlterDatabaseOwner, Target: "rekomi_eu", Role: "rekomi"},
				{Kind: RevokeDatabase, Target: "rekomi_eu", Role: PublicGrantee, Items: []string{"CONNECT", "CREATE", "TEMPORARY"}},
				{Kind: RevokeDatabase, Target: "rekomi_eu", Role: "rekomi_app", Items: []string{"CONNECT", "CREATE"}},
				{Kind: GrantDatabase, Target: "rekomi_eu", Role: "rekomi_app", Items: []string{"CONNECT"}},
			},
		},
		"takes TEMPORARY from the runtime role and PUBLIC, not from the owner": {
			edit: func(f *provisionFacts) {
				f.Database.Grants[PublicGrantee] = privileges{"TEMPORARY": false}
				f.Database.Grants["rekomi_app"]["TEMPORARY"] = false
			},
			want: []Action{
				{Kind: RevokeDatabase, Target: "rekomi_eu", Role: PublicGrantee, Items: []string{"TEMPORARY"}},
				{Kind: RevokeDatabase, Target: "rekomi_eu", Role: "rekomi_app", Items: []string{"TEMPORARY"}},
			},
		},
		"grants the owner CONNECT when it was revoked": {
			edit: func(f *provisionFacts) {
				f.Database.Grants["rekomi"] = privileges{"CREATE": false}
			},
			want: []Action{{Kind: GrantDatabase, Target: "rekomi_eu", Role: "rekomi", Items: []string{"CONNECT"}}},
		},
		"makes a non-superuser admin a member of the owner role before creating the database": {
			edit: func(f *provisionFacts) {
				f.Admin = adminFacts{User: "cloudadmin", SessionUser: "cloudadmin", ServerVersion: 150000}
				f.Database = objectFacts{}
			},
			want: []Action{
				{Kind: GrantMembership, Target: "cloudadmin", Role: "rekomi"},
				{Kind: CreateDatabase, Target: "rekomi_eu", Role: "rekomi"},
				{Kind: RevokeDatabase, Target: "rekomi_eu", Role: PublicGrantee, Items: []string{"CONNECT", "TEMPORARY"}},
				{Kind: GrantDatabase, Target: "rekomi_eu", Role: "rekomi_app", Items: []string{"CONNECT"}},
			},
		},
		"asks for the SET and INHERIT options of the membership from PostgreSQL 16": {
			edit: func(f *provisionFacts) {
				f.Admin = adminFacts{User: "cloudadmin", SessionUser: "cloudadmin", ServerVersion: 160002}
			},
			want: []Action{{Kind: GrantMembership, Target: "cloudadmin", Role: "rekomi", Items: []string{"INHERIT TRUE", "SET TRUE"}}},
		},
		"leaves superuser-only attributes out of ALTER ROLE for a non-superuser admin": {
			edit: func(f *provisionFacts) {
				f.Admin = adminFacts{User: "cloudadmin", SessionUser: "cloudadmin", ServerVersion: 150000, SetsOwner: true}
				f.Runtime.Attributes.Inherit = true
				f.Runtime.Attributes.CreateDB = true
			},
			want: []Action{{Kind: AlterRole, Target: "rekomi_app", Items: []string{
				"NOINHERIT", "NOCREATEROLE", "NOCREATEDB", "LOGIN", "CONNECTION LIMIT -1", "VALID UNTIL 'infinity'"}}},
		},
		"refuses to pretend a non-superuser admin can take SUPERUSER away": {
			edit: func(f *provisionFacts) {
				f.Admin = adminFacts{User: "cloudadmin", SessionUser: "cloudadmin", ServerVersion: 150000, SetsOwner: true}
				f.Runtime.Attributes.Superuser = true
			},
			wantErr: ErrSuperuserRequired,
		},
		"refuses to pretend a non-superuser admin can take BYPASSRLS away": {
			edit: func(f *provisionFacts) {
				f.Admin = adminFacts{User: "cloudadmin", SessionUser: "cloudadmin", ServerVersion: 150000, SetsOwner: true}
				f.Owner.Attributes.BypassRLS = true
			},
			wantErr: ErrSuperuserRequired,
		},
		"refuses a spec whose owner is the admin's own role": {
			edit: func(f *provisionFacts) {
				f.Admin.User, f.Admin.SessionUser = "rekomi", "rekomi"
			},
			wantErr: ErrInvalidSpec,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec, err := validSpec().normalized()
			require.NoError(t, err)
			f := provisioned()
			tc.edit(&f)
			got, err := planProvisioning(spec, f)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPlanSchema(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		got  objectFacts
		want []Action
	}{
		"changes nothing when the schema matches": {
			got: objectFacts{Exists: true, Owner: "rekomi", Grants: map[string]privileges{
				PublicGrantee: {"USAGE": false}, "rekomi": {"USAGE": false, "CREATE": false}, "rekomi_app": {"USAGE": false},
			}},
		},
		"takes the public schema from pg_database_owner and lets the runtime role use it": {
			got: objectFacts{Exists: true, Owner: "pg_database_owner", Grants: map[string]privileges{
				PublicGrantee: {"USAGE": false},
			}},
			want: []Action{
				{Kind: AlterSchemaOwner, Target: "public", Role: "rekomi"},
				{Kind: GrantSchema, Target: "public", Role: "rekomi_app", Items: []string{"USAGE"}},
			},
		},
		"creates a missing schema": {
			got: objectFacts{},
			want: []Action{
				{Kind: CreateSchema, Target: "public", Role: "rekomi"},
				{Kind: GrantSchema, Target: "public", Role: "rekomi_app", Items: []string{"USAGE"}},
			},
		},
		"revokes CREATE from PUBLIC and from the runtime role": {
			got: objectFacts{Exists: true, Owner: "rekomi", Grants: map[string]privileges{
				PublicGrantee: {"USAGE": false, "CREATE": false}, "rekomi_app": {"USAGE": false, "CREATE": false},
			}},
			want: []Action{
				{Kind: RevokeSchema, Target: "public", Role: PublicGrantee, Items: []string{"CREATE"}},
				{Kind: RevokeSchema, Target: "public", Role: "rekomi_app", Items: []string{"CREATE"}},
			},
		},
		"grants USAGE again without the grant option": {
			got: objectFacts{Exists: true, Owner: "rekomi", Grants: map[string]privileges{
				"rekomi_app": {"USAGE": true},
			}},
			want: []Action{
				{Kind: RevokeSchema, Target: "public", Role: "rekomi_app", Items: []string{"USAGE"}},
				{Kind: GrantSchema, Target: "public", Role: "rekomi_app", Items: []string{"USAGE"}},
			},
		},
		"takes the schema from the runtime role": {
			got: objectFacts{Exists: true, Owner: "rekomi_app", Grants: map[string]privileges{
				"rekomi_app": {"USAGE": false, "CREATE": false},
			}},
			want: []Action{
				{Kind: AlterSchemaOwner, Target: "public", Role: "rekomi"},
				{Kind: GrantSchema, Target: "public", Role: "rekomi_app", Items: []string{"USAGE"}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec, err := validSpec().normalized()
			require.NoError(t, err)
			require.Equal(t, tc.want, planSchema(spec, tc.got))
		})
	}
}

func TestPlanTables(t *testing.T) {
	t.Parallel()
	grants := map[string][]string{"audit_log": {"INSERT", "SELECT"}, "campaigns": {"DELETE", "INSERT", "SELECT", "UPDATE"}}
	table := func(name string, runtime, public privileges) tableFacts {
		t := tableFacts{Name: name, Grants: map[string]privileges{}, ColumnGrants: map[string]privileges{}}
		if runtime != nil {
			t.Grants["rekomi_app"] = runtime
		}
		if public != nil {
			t.Grants[PublicGrantee] = public
		}
		return t
	}
	exact := table("campaigns", privileges{"DELETE": false, "INSERT": false, "SELECT": false, "UPDATE": false}, nil)
	tests := map[string]struct {
		tables  []tableFacts
		want    []Action
		wantErr error
	}{
		"changes nothing when privileges match": {
			tables: []tableFacts{exact, table("audit_log", privileges{"INSERT": false, "SELECT": false}, nil)},
		},
		"grants missing privileges and revokes extra ones": {
			tables: []tableFacts{exact, table("audit_log", privileges{"SELECT": false, "TRUNCATE": false, "UPDATE": false}, nil)},
			want: []Action{
				{Kind: RevokeTable, Target: "audit_log", Role: "rekomi_app", Items: []string{"TRUNCATE", "UPDATE"}},
				{Kind: GrantTable, Target: "audit_log", Role: "rekomi_app", Items: []string{"INSERT"}},
			},
		},
		"takes everything from a table absent from the map": {
			tables: []tableFacts{
				exact, table("audit_log", privileges{"INSERT": false, "SELECT": false}, nil),
				table("secrets", privileges{"SELECT": false, "REFERENCES": false, "TRIGGER": false}, nil),
			},
			want: []Action{{Kind: RevokeTable, Target: "secrets", Role: "rekomi_app", Items: []string{"REFERENCES", "SELECT", "TRIGGER"}}},
		},
		"revokes column privileges the table-level grants do not allow": {
			tables: func() []tableFacts {
				a := table("audit_log", privileges{"INSERT": false, "SELECT": false}, nil)
				a.ColumnGrants["rekomi_app"] = privileges{"SELECT(note)": false, "UPDATE(note)": false}
				return []tableFacts{exact, a}
			}(),
			want: []Action{{Kind: RevokeTable, Target: "audit_log", Role: "rekomi_app", Items: []string{"SELECT(note)", "UPDATE(note)"}}},
		},
		"revokes every privilege granted to PUBLIC": {
			tables: []tableFacts{exact, table("audit_log", privileges{"INSERT": false, "SELECT": false}, privileges{"SELECT": false})},
			want:   []Action{{Kind: RevokeTable, Target: "audit_log", Role: PublicGrantee, Items: []string{"SELECT"}}},
		},
		"fails on a grants entry naming a missing table": {
			tables:  []tableFacts{exact},
			wantErr: ErrUnknownTable,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec, err := validSpec().normalized()
			require.NoError(t, err)
			got, err := planTables(spec, grants, tc.tables)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorContains(t, err, "audit_log")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPlanColumnGrants(t *testing.T) {
	t.Parallel()
	grants := map[string][]string{"api_keys": {"INSERT", "SELECT", "UPDATE(revoked_at)"}}
	keys := func(table, columns privileges) []tableFacts {
		return []tableFacts{{Name: "api_keys", Columns: []string{"id", "hash", "revoked_at"},
			Grants: map[string]privileges{"rekomi_app": table}, ColumnGrants: map[string]privileges{"rekomi_app": columns}}}
	}
	tests := map[string]struct {
		tables  []tableFacts
		want    []Action
		wantErr error
	}{
		"changes nothing when the column privilege is held": {
			tables: keys(privileges{"INSERT": false, "SELECT": false}, privileges{"UPDATE(revoked_at)": false}),
		},
		"narrows UPDATE on the table to the column": {
			tables: keys(privileges{"INSERT": false, "SELECT": false, "UPDATE": false}, nil),
			want: []Action{
				{Kind: RevokeTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"UPDATE"}},
				{Kind: GrantTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"UPDATE(revoked_at)"}},
			},
		},
		"grants the column again after revoking UPDATE on the table, which takes it": {
			tables: keys(privileges{"INSERT": false, "SELECT": false, "UPDATE": false},
				privileges{"UPDATE(revoked_at)": false, "UPDATE(hash)": false}),
			want: []Action{
				{Kind: RevokeTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"UPDATE"}},
				{Kind: GrantTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"UPDATE(revoked_at)"}},
			},
		},
		"revokes another column and a grant option": {
			tables: keys(privileges{"INSERT": false, "SELECT": false},
				privileges{"UPDATE(revoked_at)": true, "UPDATE(hash)": false}),
			want: []Action{
				{Kind: RevokeTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"UPDATE(hash)", "UPDATE(revoked_at)"}},
				{Kind: GrantTable, Target: "api_keys", Role: "rekomi_app", Items: []string{"UPDATE(revoked_at)"}},
			},
		},
		"fails on a column the table lacks": {
			tables: func() []tableFacts {
				f := keys(nil, nil)
				f[0].Columns = []string{"id", "hash"}
				return f
			}(),
			wantErr: ErrUnknownColumn,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec, err := validSpec().normalized()
			require.NoError(t, err)
			got, err := planTables(spec, grants, tc.tables)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorContains(t, err, "revoked_at")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
