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

// Package trust measures the security claims a Region's /trust page makes,
// live, from the app's own database session: what the role serving
// requests may do, which tables enforce row-level security and with which
// policies, the audit log's append-only triggers, the index that makes a
// replayed webhook delivery a no-op, the transport of the session itself
// and the schema version. It reads the catalog and the session's own
// statistics only, never a tenant's rows.
package trust

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/pg/isolation"
)

// Measurement is what the database says of the Region at one instant,
// read in one snapshot.
type Measurement struct {
	MeasuredAt   time.Time    `json:"measured_at"`
	RuntimeRole  RuntimeRole  `json:"runtime_role"`
	TenantTables TenantTables `json:"tenant_tables"`
	AuditLog     AuditLog     `json:"audit_log"`
	Replay       Replay       `json:"webhook_replay"`
	Transport    Transport    `json:"database_transport"`
}

// RuntimeRole is the role serving requests, as its own session sees it.
// It holds when the role can neither bypass row-level security nor grant
// itself a role that could, and owns no tenant table.
type RuntimeRole struct {
	Holds      bool     `json:"holds"`
	Name       string   `json:"name"`
	Superuser  bool     `json:"superuser"`
	BypassRLS  bool     `json:"bypass_rls"`
	CreateRole bool     `json:"create_role"`
	CreateDB   bool     `json:"create_db"`
	MemberOf   []string `json:"member_of"`
	// TableOwners are the roles owning the tenant tables.
	TableOwners []string `json:"table_owners"`
	// Findings are why the role does not hold: its attributes, its
	// memberships, the tables it owns, and the isolation verifier's
	// findings about the role and the functions it may call.
	Findings []string `json:"findings"`
}

// TenantTables is every tenant table with its row-level security and
// policies, and the isolation verifier's findings over them.
type TenantTables struct {
	Holds    bool     `json:"holds"`
	Tables   []Table  `json:"tables"`
	Findings []string `json:"findings"`
}

// Table is one tenant table as the catalog shows it.
type Table struct {
	Name       string   `json:"name"`
	RLSEnabled bool     `json:"rls_enabled"`
	RLSForced  bool     `json:"rls_forced"`
	Policies   []Policy `json:"policies"`
}

// Policy is one row-level security policy, its expressions as PostgreSQL
// deparses them.
type Policy struct {
	Name      string `json:"name"`
	Command   string `json:"command"`
	Using     string `json:"using,omitempty"`
	WithCheck string `json:"with_check,omitempty"`
}

// AuditLog says whether the triggers that refuse UPDATE, DELETE and
// TRUNCATE on the audit log, and the one that chains each entry's hash,
// are in place and enabled.
type AuditLog struct {
	Holds bool `json:"holds"`
	// Triggers are those in place as the migrations wrote them: the same
	// definition (timing, events, level, function), the same function
	// body, and enabled for every session (not only replicas).
	Triggers []string `json:"triggers"`
	// Missing are those that are not, and Findings say why, with any
	// trigger on the table the migrations did not write.
	Missing  []string `json:"missing"`
	Findings []string `json:"findings"`
}

// Replay says whether billing events are unique per organization,
// provider and event id, which makes a replayed delivery a no-op.
type Replay struct {
	Holds bool   `json:"holds"`
	Index string `json:"index,omitempty"`
}

// Transport is the TLS of the app's own database connection, from
// pg_stat_ssl; TLS false says plainly that it is not encrypted.
type Transport struct {
	TLS     bool   `json:"tls"`
	Version string `json:"version,omitempty"`
	Cipher  string `json:"cipher,omitempty"`
}

// auditTrigger is an audit log trigger as the migrations write it: its
// definition as pg_get_triggerdef shows it, and the MD5 of its function's
// body. A migration that changes either changes these, and
// TestMeasure/EveryClaimHoldsOnAProvisionedRegion fails until they are
// updated.
type auditTrigger struct {
	def, bodyMD5 string
}

// auditTriggers are the audit log's triggers the migrations create.
var auditTriggers = map[string]auditTrigger{
	"audit_log_chain": {
		def:     "CREATE TRIGGER audit_log_chain BEFORE INSERT ON public.audit_log FOR EACH ROW EXECUTE FUNCTION rekomi_audit_log_chain()",
		bodyMD5: "3b1b0407ab73f17a718f074e7db5c8cc",
	},
	"audit_log_no_truncate": {
		def:     "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON public.audit_log FOR EACH STATEMENT EXECUTE FUNCTION rekomi_audit_log_append_only()",
		bodyMD5: "a1e1cc929c852fdfdf70b97614badf90",
	},
	"audit_log_no_update_delete": {
		def:     "CREATE TRIGGER audit_log_no_update_delete BEFORE DELETE OR UPDATE ON public.audit_log FOR EACH ROW EXECUTE FUNCTION rekomi_audit_log_append_only()",
		bodyMD5: "a1e1cc929c852fdfdf70b97614badf90",
	},
}

// Measure reads a Measurement in tx, which should be a read-only
// REPEATABLE READ transaction of the runtime role; opts are the isolation
// verifier's options for the same role.
func Measure(ctx context.Context, tx pgx.Tx, opts isolation.Options, now time.Time) (Measurement, error) {
	m := Measurement{MeasuredAt: now.UTC()}
	report, err := isolation.Verify(ctx, tx, opts)
	if err != nil {
		return m, err
	}
	m.TenantTables.read(report)
	for _, step := range []func() error{
		func() error { return m.RuntimeRole.read(ctx, tx, opts.RuntimeRole, report) },
		func() error { return m.AuditLog.read(ctx, tx) },
		func() error { return m.Replay.read(ctx, tx) },
		func() error { return m.Transport.read(ctx, tx) },
	} {
		if err := step(); err != nil {
			return m, err
		}
	}
	return m, nil
}

func (r *RuntimeRole) read(ctx context.Context, tx pgx.Tx, name string, report isolation.Report) error {
	r.Name = name
	err := tx.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb,
			coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname)
			          FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
			          WHERE m.member = r.oid), '{}')
		FROM pg_catalog.pg_roles r WHERE r.rolname = $1`, name).
		Scan(&r.Superuser, &r.BypassRLS, &r.CreateRole, &r.CreateDB, &r.MemberOf)
	if err != nil {
		return fmt.Errorf("reading the runtime role %s: %w", name, err)
	}
	r.TableOwners = []string{}
	for _, t := range report.Tables {
		r.TableOwners = append(r.TableOwners, t.Owner)
	}
	slices.Sort(r.TableOwners)
	r.TableOwners = slices.Compact(r.TableOwners)
	r.Findings = append(findings(report, false), r.attributeFindings()...)
	r.Holds = len(r.Findings) == 0
	return nil
}

// attributeFindings are what the role's attributes, memberships and
// owned tables say against it.
func (r *RuntimeRole) attributeFindings() []string {
	var out []string
	for _, f := range []struct {
		on   bool
		what string
	}{
		{r.Superuser, "the role is a superuser"},
		{r.BypassRLS, "the role has BYPASSRLS"},
		{r.CreateRole, "the role has CREATEROLE"},
		{r.CreateDB, "the role has CREATEDB"},
		{len(r.MemberOf) > 0, fmt.Sprintf("the role is a member of %v", r.MemberOf)},
		{len(r.TableOwners) == 0, "no tenant table was found to own"},
		{slices.Contains(r.TableOwners, r.Name), "the role owns a tenant table"},
	} {
		if f.on {
			out = append(out, f.what)
		}
	}
	return out
}

// findings are the details of the report's violations about a table
// (ofTables) or about the role and functions.
func findings(report isolation.Report, ofTables bool) []string {
	out := []string{}
	for _, v := range report.Violations {
		if (v.Table != "") == ofTables {
			out = append(out, v.Detail)
		}
	}
	return out
}

// read takes the tenant tables as the isolation verifier read them.
func (t *TenantTables) read(report isolation.Report) {
	t.Tables = []Table{}
	for _, tbl := range report.Tables {
		out := Table{Name: tbl.Name, RLSEnabled: tbl.RLSEnabled, RLSForced: tbl.RLSForced, Policies: []Policy{}}
		for _, p := range tbl.Policies {
			out.Policies = append(out.Policies, Policy{Name: p.Name, Command: p.Command, Using: p.Using, WithCheck: p.WithCheck})
		}
		t.Tables = append(t.Tables, out)
	}
	t.Findings = findings(report, true)
	t.Holds = len(t.Findings) == 0 && len(t.Tables) > 0
}

func (a *AuditLog) read(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT t.tgname::text, t.tgenabled::text, pg_catalog.pg_get_triggerdef(t.oid), pg_catalog.md5(p.prosrc)
		FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
		WHERE t.tgrelid = 'public.audit_log'::regclass AND NOT t.tgisinternal
		ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("reading the audit log's triggers: %w", err)
	}
	a.Triggers, a.Missing, a.Findings = []string{}, []string{}, []string{}
	seen := map[string]bool{}
	var name, enabled, def, bodyMD5 string
	_, err = pgx.ForEachRow(rows, []any{&name, &enabled, &def, &bodyMD5}, func() error {
		seen[name] = true
		want, known := auditTriggers[name]
		switch {
		case !known:
			a.Findings = append(a.Findings, "trigger "+name+" on the audit log is not one the migrations wrote")
		case enabled != "O" && enabled != "A":
			a.Missing = append(a.Missing, name)
			a.Findings = append(a.Findings, "trigger "+name+" is disabled, or fires for replicas only")
		case def != want.def:
			a.Missing = append(a.Missing, name)
			a.Findings = append(a.Findings, "trigger "+name+" is defined otherwise: "+def)
		case bodyMD5 != want.bodyMD5:
			a.Missing = append(a.Missing, name)
			a.Findings = append(a.Findings, "the function of trigger "+name+" is not the one the migrations wrote")
		default:
			a.Triggers = append(a.Triggers, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the audit log's triggers: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(auditTriggers)) {
		if !seen[name] {
			a.Missing = append(a.Missing, name)
			a.Findings = append(a.Findings, "trigger "+name+" is missing")
		}
	}
	a.Holds = len(a.Findings) == 0
	return nil
}

func (r *Replay) read(ctx context.Context, tx pgx.Tx) error {
	err := tx.QueryRow(ctx, `SELECT coalesce(min(pg_catalog.pg_get_indexdef(i.indexrelid)), '')
		FROM pg_catalog.pg_index i
		WHERE i.indrelid = 'public.billing_events'::regclass AND i.indisunique AND i.indisvalid AND i.indisready
		  AND i.indpred IS NULL AND i.indexprs IS NULL
		  AND (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
		       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)
		      = ARRAY['org_id', 'provider', 'event_id']`).Scan(&r.Index)
	if err != nil {
		return fmt.Errorf("reading the webhook replay index: %w", err)
	}
	r.Holds = r.Index != ""
	return nil
}

func (t *Transport) read(ctx context.Context, tx pgx.Tx) error {
	err := tx.QueryRow(ctx, `SELECT coalesce(ssl, false), coalesce(version, ''), coalesce(cipher, '')
		FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()`).Scan(&t.TLS, &t.Version, &t.Cipher)
	if err != nil {
		return fmt.Errorf("reading the transport of the database session: %w", err)
	}
	return nil
}
