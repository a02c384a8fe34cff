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

package trust

import (
	"fmt"
	"time"
)

// Format names the layout of a Statement. A change that removes, renames
// or retypes a field is a new format; adding a field is not.
const Format = "rekomi.trust.v1"

// Statement is everything a Region's /trust page claims, as measured when
// it was issued. It names no organization and counts nothing of one.
type Statement struct {
	Format   string    `json:"format"`
	Region   string    `json:"region"`
	Location string    `json:"location"`
	URL      string    `json:"url"`
	IssuedAt time.Time `json:"issued_at"`
	// Holds is true when every claim holds.
	Holds  bool    `json:"holds"`
	Claims []Claim `json:"claims"`
	// Database is what the app's own database session measured; nil when
	// it could not measure, and DatabaseError says why.
	Database       *Measurement   `json:"database"`
	DatabaseError  string         `json:"database_error,omitempty"`
	IsolationCheck IsolationCheck `json:"isolation_check"`
	AuditChains    AuditChains    `json:"audit_chains"`
	Webhooks       []Webhook      `json:"webhooks"`
	HTTPTransport  HTTPTransport  `json:"http_transport"`
	AtRest         AtRest         `json:"at_rest"`
	Retention      Retention      `json:"retention"`
	Versions       Versions       `json:"versions"`
	// NonClaims are what the Region does not offer, stated as plainly as
	// what it does.
	NonClaims []string `json:"non_claims"`
	// VulnerabilityContact is where to report a vulnerability; "" when the
	// Region names none, which NonClaims then says.
	VulnerabilityContact string `json:"vulnerability_contact"`
}

// Claim is one line of the statement's summary: whether it holds, why not,
// and how anyone can check it without trusting the page.
type Claim struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Holds      bool       `json:"holds"`
	Measured   *time.Time `json:"measured_at"`
	Findings   []string   `json:"findings"`
	HowToCheck string     `json:"how_to_check"`
}

// IsolationCheck is the outcome of the app's latest periodic check of
// tenant isolation, the one that fences its tenant routes.
type IsolationCheck struct {
	// Outcome is verified, violated, unreachable or pending (no check has
	// finished yet).
	Outcome         string     `json:"outcome"`
	CheckedAt       *time.Time `json:"checked_at"`
	Finding         string     `json:"finding,omitempty"`
	IntervalSeconds int        `json:"interval_seconds"`
}

// Outcomes of an IsolationCheck.
const (
	CheckVerified    = "verified"
	CheckViolated    = "violated"
	CheckUnreachable = "unreachable"
	CheckPending     = "pending"
)

// AuditChains is the latest check, across the Region's organizations, of
// each audit chain against the operator's signed witness of it.
type AuditChains struct {
	// Witnessed is false when the app is given no witness to check
	// against; the chains are then unchecked.
	Witnessed bool       `json:"witnessed"`
	CheckedAt *time.Time `json:"checked_at"`
	// Checked counts the organizations whose chain was compared with
	// their witness; Failed those of them whose chain broke or departed
	// from it; Unchecked those that could not be checked (the database
	// failed or the witness could not be verified).
	Checked         int `json:"organizations_checked"`
	Failed          int `json:"organizations_failed"`
	Unchecked       int `json:"organizations_unchecked"`
	IntervalSeconds int `json:"interval_seconds"`
	// Error says why the latest check says nothing: the witnesses could
	// not be read, or no check has finished for two intervals.
	Error string `json:"error,omitempty"`
}

// Webhook is how deliveries of one provider are verified.
type Webhook struct {
	Provider  string `json:"provider"`
	Scheme    string `json:"scheme"`
	Algorithm string `json:"algorithm"`
	// Tolerance is how far the signed timestamp may be from the app's
	// clock, in the past or in the future: the default, and the range an
	// endpoint may choose.
	ToleranceDefaultSeconds int    `json:"tolerance_default_seconds"`
	ToleranceMinSeconds     int    `json:"tolerance_min_seconds"`
	ToleranceMaxSeconds     int    `json:"tolerance_max_seconds"`
	Replay                  string `json:"replay"`
	Refusal                 string `json:"refusal"`
}

// HTTPTransport says how the app's HTTP side is encrypted.
type HTTPTransport struct {
	// TerminatedBy is "app" when the app serves TLS itself, "proxy" when
	// its public URL is https and a proxy in front of it terminates TLS,
	// and "none" when its public URL is plain http.
	TerminatedBy string `json:"terminated_by"`
	PublicScheme string `json:"public_scheme"`
}

// AtRest describes the key ring that seals stored secrets, never its keys.
type AtRest struct {
	Algorithm string `json:"algorithm"`
	Keys      int    `json:"keys"`
	// NewestKeyCreatedAt is when the newest key was made; nil when the
	// ring does not record it.
	NewestKeyCreatedAt *time.Time `json:"newest_key_created_at"`
	// NewestKeyAgeDays is the newest key's age in whole days when the
	// statement was issued; nil with NewestKeyCreatedAt.
	NewestKeyAgeDays *int `json:"newest_key_age_days"`
}

// Retention says what happens to a cancelled organization's data.
type Retention struct {
	GracePeriodHours int      `json:"grace_period_hours"`
	Purge            string   `json:"purge"`
	Kept             []string `json:"kept"`
}

// Versions of the database schema and of the binary serving.
type Versions struct {
	Schema uint   `json:"schema"`
	Binary string `json:"binary"`
}

// Claim ids.
const (
	ClaimRuntimeRole       = "runtime_role"
	ClaimTenantTables      = "tenant_tables"
	ClaimIsolationCheck    = "isolation_check"
	ClaimAuditLog          = "audit_log"
	ClaimAuditChains       = "audit_chains"
	ClaimWebhookReplay     = "webhook_replay"
	ClaimDatabaseTransport = "database_transport"
)

// Summarize fills Claims and Holds from the measured parts.
func (s *Statement) Summarize() {
	s.Claims = nil
	claim := func(id, title, how string, holds bool, findings []string, at time.Time) {
		if findings == nil {
			findings = []string{}
		}
		c := Claim{ID: id, Title: title, Holds: holds, Findings: findings, HowToCheck: how}
		if !at.IsZero() {
			c.Measured = &at
		}
		s.Claims = append(s.Claims, c)
	}
	// measured is a claim read from the database session: failed, and
	// saying why, when the session could not measure.
	m := s.Database
	measured := func(id, title, how string, holds func() bool, findings func() []string) {
		if m == nil {
			claim(id, title, how, false, []string{"not measured: " + s.DatabaseError}, time.Time{})
			return
		}
		claim(id, title, how, holds(), findings(), m.MeasuredAt)
	}
	measured(ClaimRuntimeRole, "The role serving requests cannot bypass row-level security and owns no tenant table",
		"SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user, as the runtime role",
		func() bool { return m.RuntimeRole.Holds }, func() []string { return m.RuntimeRole.Findings })
	tables := 0
	if m != nil {
		tables = len(m.TenantTables.Tables)
	}
	measured(ClaimTenantTables, fmt.Sprintf("Every tenant table (%d) enforces row-level security, forced, with policies keyed to the current organization", tables),
		"SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class, and pg_policies, for the tables listed",
		func() bool { return m.TenantTables.Holds }, func() []string { return m.TenantTables.Findings })
	check := s.IsolationCheck
	var checkedAt time.Time
	if check.CheckedAt != nil {
		checkedAt = *check.CheckedAt
	}
	var checkFindings []string
	if check.Finding != "" {
		checkFindings = []string{check.Finding}
	}
	claim(ClaimIsolationCheck, "The app's periodic isolation check passes, or the app refuses tenant requests",
		"GET /readyz answers 503 while the check fails", check.Outcome == CheckVerified, checkFindings, checkedAt)
	measured(ClaimAuditLog, "The audit log refuses UPDATE, DELETE and TRUNCATE, and chains every entry's hash",
		"SELECT tgname, tgenabled, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass, and the functions they call",
		func() bool { return m.AuditLog.Holds }, func() []string { return m.AuditLog.Findings })
	var chainsAt time.Time
	if c := s.AuditChains; c.CheckedAt != nil {
		chainsAt = *c.CheckedAt
	}
	claim(ClaimAuditChains, "Every organization's audit chain agrees with the operator's signed witness",
		"GET /v1/audit-log/verify, or rekomi audit verify --witness, for your organization",
		len(chainFindings(s.AuditChains)) == 0, chainFindings(s.AuditChains), chainsAt)
	measured(ClaimWebhookReplay, "A replayed webhook delivery changes nothing: events are unique per organization, provider and event id",
		"SELECT indexdef FROM pg_indexes WHERE tablename = 'billing_events'",
		func() bool { return m.Replay.Holds }, func() []string { return replayFindings(m.Replay) })
	measured(ClaimDatabaseTransport, "The app's database connection is encrypted",
		"SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid(), as the runtime role",
		func() bool { return m.Transport.TLS }, func() []string { return transportFindings(m.Transport) })
	s.Holds = true
	for _, c := range s.Claims {
		s.Holds = s.Holds && c.Holds
	}
}

func chainFindings(c AuditChains) []string {
	var out []string
	switch {
	case !c.Witnessed:
		return []string{"no witness is configured: the chains are not checked against one"}
	case c.CheckedAt == nil:
		return []string{"no check has finished yet"}
	case c.Error != "":
		out = append(out, c.Error)
	}
	if c.Failed > 0 {
		out = append(out, fmt.Sprintf("%d of %d organizations' chains broke or departed from their witness", c.Failed, c.Checked))
	}
	if c.Unchecked > 0 {
		out = append(out, fmt.Sprintf("%d organizations' chains could not be checked", c.Unchecked))
	}
	if c.Checked == 0 && c.Unchecked == 0 && c.Error == "" {
		out = append(out, "no organization's chain has been witnessed yet, so none was checked")
	}
	return out
}

func replayFindings(r Replay) []string {
	if r.Holds {
		return nil
	}
	return []string{"no valid unique index on billing_events (org_id, provider, event_id)"}
}

func transportFindings(t Transport) []string {
	if t.TLS {
		return nil
	}
	return []string{"the connection is not TLS: the database is reached in plain text"}
}
