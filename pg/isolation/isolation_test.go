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

package isolation_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/pg/isolation"
)

var (
	_ isolation.Querier = (*pgx.Conn)(nil)
	_ isolation.Querier = pgx.Tx(nil)
)

// correctSchema breaks no rule: tenant tables (one partitioned, with its
// partition), organizations, the routing table with its keyed lookup
// policy, a table and a view that are not tenant data, indexes led by the
// tenant key. The owner runs it; {runtime} and {schema} are replaced by
// quoted identifiers.
const correctSchema = `
CREATE FUNCTION rekomi_current_org() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('rekomi.org_id', true), '')::uuid $$;
CREATE FUNCTION rekomi_route_key() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('rekomi.route_key', true), '') $$;

CREATE TABLE organizations (
    id   uuid PRIMARY KEY,
    name text NOT NULL
);
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = (SELECT rekomi_current_org()))
    WITH CHECK (id = (SELECT rekomi_current_org()));

CREATE TABLE campaigns (
    id     uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id),
    name   text NOT NULL
);
CREATE INDEX campaigns_org_id_idx ON campaigns (org_id, id);

CREATE TABLE affiliates (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id     uuid NOT NULL,
    email  text NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE clicks (
    org_id     uuid        NOT NULL,
    id         uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE clicks_2026 PARTITION OF clicks
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');

CREATE TABLE route_keys (
    kind   text NOT NULL,
    key    text NOT NULL,
    org_id uuid NOT NULL REFERENCES organizations (id),
    PRIMARY KEY (kind, key)
);
CREATE INDEX route_keys_org_id_idx ON route_keys (org_id, kind);
ALTER TABLE route_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY keyed_lookup ON route_keys FOR SELECT
    USING (key = (SELECT rekomi_route_key()));
CREATE POLICY tenant_select ON route_keys FOR SELECT
    USING (org_id = (SELECT rekomi_current_org()));
CREATE POLICY tenant_insert ON route_keys FOR INSERT
    WITH CHECK (org_id = (SELECT rekomi_current_org()));
CREATE POLICY tenant_update ON route_keys FOR UPDATE
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));
CREATE POLICY tenant_delete ON route_keys FOR DELETE
    USING (org_id = (SELECT rekomi_current_org()));

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['campaigns', 'affiliates', 'clicks', 'clicks_2026'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (org_id = (SELECT rekomi_current_org()))
            WITH CHECK (org_id = (SELECT rekomi_current_org()))', t);
    END LOOP;
END $$;

CREATE TABLE schema_migrations (version bigint PRIMARY KEY);

CREATE FUNCTION campaign_count() RETURNS bigint
    LANGUAGE sql STABLE
    AS $$ SELECT count(*) FROM campaigns $$;
CREATE VIEW campaign_names WITH (security_invoker = true) AS
    SELECT org_id, id, name FROM campaigns;

GRANT USAGE ON SCHEMA {schema} TO {runtime};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {runtime};
`

var correctTenantTables = []string{"affiliates", "campaigns", "clicks", "clicks_2026", "organizations", "route_keys"}

// bundle is one database holding the correct schema, with its own owner and
// runtime roles.
type bundle struct {
	srv        *dbtest.Server
	admin      *pgx.Conn // a superuser, in the test database
	runtimeURL string
	names      *strings.Replacer // {owner}, {runtime} and {schema} to quoted identifiers
	opts       isolation.Options
}

// setup creates the roles and a database, and writes the correct schema
// into schema as the owner.
func setup(t *testing.T, srv *dbtest.Server, schema string) *bundle {
	t.Helper()
	owner, ownerPassword := createRole(t, srv, "owner", "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT")
	runtime, runtimePassword := createRole(t, srv, "app", "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT")
	// Created after the roles, so that it is dropped before them.
	dbURL := srv.NewDatabase(t)
	b := &bundle{
		srv:        srv,
		admin:      connect(t, dbURL),
		runtimeURL: dbtest.WithUser(t, dbURL, runtime, runtimePassword),
		names: strings.NewReplacer(
			"{owner}", ident(owner),
			"{runtime}", ident(runtime),
			"{schema}", ident(schema),
		),
		opts: isolation.Options{Schema: schema, RuntimeRole: runtime, PublicLookupTables: []string{"route_keys"}},
	}
	if schema == "public" {
		b.exec(t, "GRANT CREATE ON SCHEMA public TO {owner}")
	} else {
		b.exec(t, "CREATE SCHEMA {schema} AUTHORIZATION {owner}")
	}
	ownerConn := connect(t, dbtest.WithUser(t, dbURL, owner, ownerPassword))
	_, err := ownerConn.Exec(context.Background(), b.names.Replace("SET search_path = {schema};"+correctSchema))
	require.NoError(t, err, "writing the correct schema as the owner")
	return b
}

// createRole creates a role with attrs and a random password, dropped when
// t ends.
func createRole(t *testing.T, srv *dbtest.Server, prefix, attrs string) (name, password string) {
	t.Helper()
	name, password = dbtest.UniqueName(prefix), dbtest.UniqueName("pw")
	// The password is random hex, so it needs no escaping.
	srv.Exec(t, "CREATE ROLE "+ident(name)+" "+attrs+" PASSWORD '"+password+"'")
	t.Cleanup(func() { srv.Exec(t, "DROP ROLE IF EXISTS "+ident(name)) })
	return name, password
}

// role creates a role with attrs, dropped when t ends, and returns its quoted
// name.
func (b *bundle) role(t *testing.T, prefix, attrs string) string {
	t.Helper()
	name, _ := createRole(t, b.srv, prefix, attrs)
	return ident(name)
}

// exec runs sql as the superuser in the test database.
func (b *bundle) exec(t *testing.T, sql string) {
	t.Helper()
	_, err := b.admin.Exec(context.Background(), b.names.Replace(sql))
	require.NoError(t, err)
}

// verify checks the database as the superuser and as the runtime role,
// requires both to agree, and returns the report.
func (b *bundle) verify(t *testing.T) isolation.Report {
	t.Helper()
	ctx := context.Background()
	asAdmin, err := isolation.Verify(ctx, b.admin, b.opts)
	require.NoError(t, err)
	asRuntime, err := isolation.Verify(ctx, connect(t, b.runtimeURL), b.opts)
	require.NoError(t, err)
	require.Equal(t, asAdmin, asRuntime, "the runtime role must see what a superuser sees")
	for _, v := range asAdmin.Violations {
		require.NotEmpty(t, v.Detail)
		require.NotContains(t, v.Detail, "\n", "details go into one-line condition messages")
	}
	return asAdmin
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return conn
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// findings renders violations as "table/Kind" for compact expectations.
func findings(vs []isolation.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s/%s", v.Table, v.Kind))
	}
	return out
}

func TestVerifyRequiresRuntimeRole(t *testing.T) {
	t.Parallel()
	_, err := isolation.Verify(context.Background(), nil, isolation.Options{})
	require.ErrorIs(t, err, isolation.ErrNoRuntimeRole)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	ctx := context.Background()

	t.Run("AcceptsCorrectSchema", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, "public")
		report := b.verify(t)
		require.Empty(t, report.Violations)
		require.True(t, report.OK())
		require.Equal(t, correctTenantTables, report.TenantTables)
		require.Equal(t, "6 tenant tables, 0 violations", report.Summary())

		tx, err := b.admin.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		inTx, err := isolation.Verify(ctx, tx, b.opts)
		require.NoError(t, err)
		require.Equal(t, report, inTx)
	})

	t.Run("AcceptsCorrectSchemaOutsideSearchPath", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, "tenant")
		report := b.verify(t)
		require.Empty(t, report.Violations)
		require.Equal(t, correctTenantTables, report.TenantTables)
	})

	t.Run("ReportsSchemaWithoutOrganizations", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, "public")
		b.exec(t, "CREATE SCHEMA empty")
		b.opts.Schema = "empty"
		report := b.verify(t)
		require.Empty(t, report.TenantTables)
		require.Equal(t, []string{"organizations/OrganizationsMissing"}, findings(report.Violations))
	})

	t.Run("ReportsMissingRuntimeRole", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, "public")
		b.opts.RuntimeRole = dbtest.UniqueName("nobody")
		report, err := isolation.Verify(ctx, b.admin, b.opts)
		require.NoError(t, err)
		// The real runtime role's grants are then a stranger's.
		want := []string{"/RuntimeRoleMissing"}
		for _, table := range correctTenantTables {
			want = append(want, table+"/GrantedToOtherRole")
		}
		require.Equal(t, want, findings(report.Violations))
	})

	// Each case breaks the correct schema in one way, as the superuser.
	tests := map[string]struct {
		seed func(t *testing.T, b *bundle)
		want []string
	}{
		"ReportsRLSNotForced": {
			seed: sql("ALTER TABLE campaigns NO FORCE ROW LEVEL SECURITY"),
			want: []string{"campaigns/RLSNotForced"},
		},
		"ReportsRLSDisabled": {
			seed: sql("ALTER TABLE affiliates DISABLE ROW LEVEL SECURITY"),
			want: []string{"affiliates/RLSDisabled"},
		},
		"ReportsRLSDisabledOnPartition": {
			seed: sql("ALTER TABLE clicks_2026 DISABLE ROW LEVEL SECURITY"),
			want: []string{"clicks_2026/RLSDisabled"},
		},
		"ReportsDroppedPolicy": {
			seed: sql("DROP POLICY tenant_isolation ON campaigns"),
			want: []string{"campaigns/NoPolicy"},
		},
		"ReportsRestrictiveOnlyPolicy": {
			seed: sql(`DROP POLICY tenant_isolation ON campaigns;
				CREATE POLICY tenant_isolation ON campaigns AS RESTRICTIVE
					USING (org_id = (SELECT rekomi_current_org()))
					WITH CHECK (org_id = (SELECT rekomi_current_org()))`),
			want: []string{"campaigns/NoPolicy"},
		},
		"ReportsPolicyWithUsingOnly": {
			seed: sql(`DROP POLICY tenant_isolation ON campaigns;
				CREATE POLICY tenant_isolation ON campaigns USING (org_id = (SELECT rekomi_current_org()))`),
			want: []string{"campaigns/PolicyWithoutCheck"},
		},
		"ReportsPolicyUsingTrue": {
			seed: sql("CREATE POLICY open ON campaigns USING (true) WITH CHECK (true)"),
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"ReportsPolicyWidenedWithOr": {
			seed: sql(`DROP POLICY tenant_isolation ON campaigns;
				CREATE POLICY tenant_isolation ON campaigns
					USING (org_id = (SELECT rekomi_current_org()) OR name = 'shared')
					WITH CHECK (org_id = (SELECT rekomi_current_org()))`),
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"ReportsReadAllPolicyOnTenantTable": {
			seed: sql("CREATE POLICY read_all ON campaigns FOR SELECT USING (true)"),
			want: []string{"campaigns/PolicyNotTenantScoped"},
		},
		"ReportsUncheckedWriteOnLookupTable": {
			seed: sql(`DROP POLICY tenant_insert ON route_keys;
				CREATE POLICY tenant_insert ON route_keys FOR INSERT WITH CHECK (true)`),
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"ReportsReadAllPolicyOnLookupTable": {
			seed: sql("CREATE POLICY public_lookup ON route_keys FOR SELECT USING (true)"),
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"ReportsLookupWidenedWithOr": {
			seed: sql(`DROP POLICY keyed_lookup ON route_keys;
				CREATE POLICY keyed_lookup ON route_keys FOR SELECT
					USING (key = (SELECT rekomi_route_key()) OR kind = 'link_code')`),
			want: []string{"route_keys/PolicyNotTenantScoped"},
		},
		"ReportsNewTableWithoutRLS": {
			seed: sql(`CREATE TABLE payouts (org_id uuid NOT NULL REFERENCES organizations (id), amount bigint NOT NULL);
				CREATE INDEX payouts_org_id_idx ON payouts (org_id)`),
			want: []string{"payouts/NoPolicy", "payouts/RLSDisabled", "payouts/RLSNotForced"},
		},
		"ReportsTableOwnedByRuntimeRole": {
			seed: sql("ALTER TABLE campaigns OWNER TO {runtime}"),
			want: []string{"campaigns/OwnedByRuntimeRole"},
		},
		"ReportsMissingTenantIndex": {
			seed: sql("DROP INDEX campaigns_org_id_idx"),
			want: []string{"campaigns/MissingTenantIndex"},
		},
		"ReportsRuntimeRoleSuperuser": {
			seed: sql("ALTER ROLE {runtime} SUPERUSER"),
			want: []string{"/RuntimeRoleSuperuser"},
		},
		"ReportsRuntimeRoleBypassRLS": {
			seed: sql("ALTER ROLE {runtime} BYPASSRLS"),
			want: []string{"/RuntimeRoleBypassRLS"},
		},
		"ReportsRuntimeRoleCreateRole": {
			seed: sql("ALTER ROLE {runtime} CREATEROLE"),
			want: []string{"/RuntimeRoleCreateRole"},
		},
		"ReportsRuntimeRoleCreateDB": {
			seed: sql("ALTER ROLE {runtime} CREATEDB"),
			want: []string{"/RuntimeRoleCreateDB"},
		},
		"ReportsMembershipInOwner": {
			seed: sql("GRANT {owner} TO {runtime}"),
			want: []string{"/RuntimeRoleMemberOfOwner"},
		},
		"ReportsTransitiveMembershipInOwner": {
			seed: func(t *testing.T, b *bundle) {
				middle := b.role(t, "middle", "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
				b.exec(t, "GRANT {owner} TO "+middle+"; GRANT "+middle+" TO {runtime}")
			},
			want: []string{"/RuntimeRoleMemberOfOwner"},
		},
		"ReportsMembershipInBypassRLSRole": {
			seed: func(t *testing.T, b *bundle) {
				auditor := b.role(t, "auditor", "NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE")
				b.exec(t, "GRANT "+auditor+" TO {runtime}")
			},
			want: []string{"/RuntimeRoleMemberOfPrivileged"},
		},
		"ReportsSecurityDefinerFunction": {
			seed: sql(`CREATE FUNCTION org_names() RETURNS SETOF text
				LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT name FROM organizations $$`),
			want: []string{"/SecurityDefinerFunction"},
		},
		"ReportsViewWithoutSecurityInvoker": {
			seed: sql("CREATE VIEW all_campaigns AS SELECT * FROM campaigns"),
			want: []string{"all_campaigns/ViewWithoutSecurityInvoker"},
		},
		"ReportsViewWithSecurityInvokerOff": {
			seed: sql("ALTER VIEW campaign_names SET (security_invoker = off)"),
			want: []string{"campaign_names/ViewWithoutSecurityInvoker"},
		},
		"ReportsTableGrantedToPublic": {
			seed: sql("GRANT SELECT ON campaigns TO PUBLIC"),
			want: []string{"campaigns/GrantedToOtherRole"},
		},
		"ReportsColumnGrantedToAnotherRole": {
			seed: func(t *testing.T, b *bundle) {
				reader := b.role(t, "reader", "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
				b.exec(t, "GRANT SELECT (email) ON affiliates TO "+reader)
				t.Cleanup(func() { b.exec(t, "REVOKE ALL (email) ON affiliates FROM "+reader) })
			},
			want: []string{"affiliates/GrantedToOtherRole"},
		},
		"ReportsGrantOnPartition": {
			seed: func(t *testing.T, b *bundle) {
				reader := b.role(t, "reader", "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")
				b.exec(t, "GRANT SELECT, UPDATE ON clicks_2026 TO "+reader)
				t.Cleanup(func() { b.exec(t, "REVOKE ALL ON clicks_2026 FROM "+reader) })
			},
			want: []string{"clicks_2026/GrantedToOtherRole"},
		},
		"ReportsRuntimeRoleTruncate": {
			seed: sql("GRANT TRUNCATE ON organizations TO {runtime}"),
			want: []string{"organizations/RuntimeRoleTruncate"},
		},
		"ReportsMaterializedView": {
			seed: sql("CREATE MATERIALIZED VIEW campaign_totals AS SELECT org_id, count(*) FROM campaigns GROUP BY org_id"),
			want: []string{"campaign_totals/ViewWithoutSecurityInvoker"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv, "public")
			tt.seed(t, b)
			report := b.verify(t)
			require.Equal(t, tt.want, findings(report.Violations))
			require.False(t, report.OK())
			others := slices.DeleteFunc(slices.Clone(report.TenantTables), func(name string) bool { return name == "payouts" })
			require.Equal(t, correctTenantTables, others)
		})
	}
}

// sql seeds by running statements as the superuser.
func sql(statements string) func(t *testing.T, b *bundle) {
	return func(t *testing.T, b *bundle) { b.exec(t, statements) }
}

// correctPolicies is the exact policy set of correctSchema, as PostgreSQL
// deparses it.
func correctPolicies() []isolation.Policy {
	const (
		org  = "(org_id = ( SELECT rekomi_current_org() AS rekomi_current_org))"
		self = "(id = ( SELECT rekomi_current_org() AS rekomi_current_org))"
		key  = "(key = ( SELECT rekomi_route_key() AS rekomi_route_key))"
	)
	public := []string{"public"}
	ps := []isolation.Policy{
		{Table: "organizations", Name: "tenant_isolation", Command: "ALL", Permissive: true, Roles: public, Using: self, WithCheck: self},
		{Table: "route_keys", Name: "keyed_lookup", Command: "SELECT", Permissive: true, Roles: public, Using: key},
		{Table: "route_keys", Name: "tenant_select", Command: "SELECT", Permissive: true, Roles: public, Using: org},
		{Table: "route_keys", Name: "tenant_insert", Command: "INSERT", Permissive: true, Roles: public, WithCheck: org},
		{Table: "route_keys", Name: "tenant_update", Command: "UPDATE", Permissive: true, Roles: public, Using: org, WithCheck: org},
		{Table: "route_keys", Name: "tenant_delete", Command: "DELETE", Permissive: true, Roles: public, Using: org},
	}
	for _, table := range []string{"affiliates", "campaigns", "clicks", "clicks_2026"} {
		ps = append(ps, isolation.Policy{Table: table, Name: "tenant_isolation", Command: "ALL", Permissive: true,
			Roles: public, Using: org, WithCheck: org})
	}
	return ps
}

func TestVerifyPolicySet(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)

	t.Run("AcceptsExactSet", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, "public")
		b.opts.Policies = correctPolicies()
		require.Empty(t, b.verify(t).Violations)
	})

	// Each case changes the policies in a way the rules alone accept.
	tests := map[string]struct {
		seed string
		want []string
	}{
		"ReportsAlteredPolicy": {
			seed: "ALTER POLICY tenant_isolation ON campaigns USING (org_id = (SELECT rekomi_current_org()) AND name <> '')",
			want: []string{"campaigns/tenant_isolation/PolicyAltered"},
		},
		"ReportsPolicyNarrowedToARole": {
			seed: "ALTER POLICY tenant_isolation ON campaigns TO {runtime}",
			want: []string{"campaigns/tenant_isolation/PolicyAltered"},
		},
		"ReportsRestrictivePolicyAdded": {
			seed: "CREATE POLICY deny ON affiliates AS RESTRICTIVE USING (false)",
			want: []string{"affiliates/deny/PolicyUnexpected"},
		},
		"ReportsScopedPolicyAdded": {
			seed: `CREATE POLICY extra ON clicks FOR SELECT USING (org_id = (SELECT rekomi_current_org()))`,
			want: []string{"clicks/extra/PolicyUnexpected"},
		},
		"ReportsDroppedPolicy": {
			seed: "DROP POLICY keyed_lookup ON route_keys",
			want: []string{"route_keys/keyed_lookup/PolicyMissing"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv, "public")
			b.opts.Policies = correctPolicies()
			b.exec(t, tt.seed)
			require.Equal(t, tt.want, policyFindings(b.verify(t).Violations))

			b.opts.Policies = nil
			require.Empty(t, b.verify(t).Violations, "the rules alone accept this change")
		})
	}
}

// newerTable is a tenant table a newer schema adds, isolated as the
// others are.
const newerTable = `
CREATE TABLE notes (
    org_id uuid NOT NULL REFERENCES organizations (id),
    id     uuid NOT NULL,
    PRIMARY KEY (org_id, id)
);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notes
    USING (org_id = (SELECT rekomi_current_org()))
    WITH CHECK (org_id = (SELECT rekomi_current_org()));
GRANT SELECT, INSERT ON notes TO {runtime};
`

// TestVerifySchemaNewer checks a binary's view of a schema a newer binary
// migrated: the table it added is held to the rules, the tables this
// binary knows are still compared exactly.
func TestVerifySchemaNewer(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)

	t.Run("AcceptsAnIsolatedTableItDoesNotKnow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv, "public")
		b.opts.Policies = correctPolicies()
		b.exec(t, newerTable)
		require.Equal(t, []string{"notes/tenant_isolation/PolicyUnexpected"}, policyFindings(b.verify(t).Violations),
			"without SchemaNewer, a table the set does not name is unexpected")

		b.opts.SchemaNewer = true
		report := b.verify(t)
		require.Empty(t, report.Violations)
		require.Equal(t, []string{"notes"}, report.NewerTables)
		require.Contains(t, report.TenantTables, "notes")
		require.Contains(t, report.Summary(), "1 of a newer schema, held to the rules alone: notes")
	})

	// Each case breaks a rule or the exact set where SchemaNewer must not
	// hide it.
	tests := map[string]struct {
		seed string
		want []string
	}{
		"ReportsALooseNewTable": {
			seed: "ALTER POLICY tenant_isolation ON notes USING (true)",
			want: []string{"notes//PolicyNotTenantScoped"},
		},
		"ReportsANewTableNotForced": {
			seed: "ALTER TABLE notes NO FORCE ROW LEVEL SECURITY",
			want: []string{"notes//RLSNotForced"},
		},
		"ReportsANewTableGrantedToOthers": {
			seed: "GRANT SELECT ON notes TO PUBLIC",
			want: []string{"notes//GrantedToOtherRole"},
		},
		"ReportsAPolicyAddedToAKnownTable": {
			seed: `CREATE POLICY extra ON clicks FOR SELECT USING (org_id = (SELECT rekomi_current_org()))`,
			want: []string{"clicks/extra/PolicyUnexpected"},
		},
		"ReportsAKnownTableAltered": {
			seed: "ALTER POLICY tenant_isolation ON campaigns USING (org_id = (SELECT rekomi_current_org()) AND name <> '')",
			want: []string{"campaigns/tenant_isolation/PolicyAltered"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, srv, "public")
			b.opts.Policies, b.opts.SchemaNewer = correctPolicies(), true
			b.exec(t, newerTable)
			b.exec(t, tt.seed)
			require.Equal(t, tt.want, policyFindings(b.verify(t).Violations))
		})
	}
}

// policyFindings renders violations as "table/policy/Kind".
func policyFindings(vs []isolation.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Table+"/"+v.Policy+"/"+string(v.Kind))
	}
	return out
}
