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

package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

type auditRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type auditEntry struct {
	Object     string          `json:"object"`
	Seq        int64           `json:"seq"`
	ID         uuid.UUID       `json:"id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      auditRef        `json:"actor"`
	Action     string          `json:"action"`
	Target     auditRef        `json:"target"`
	IP         *string         `json:"ip"`
	UserAgent  *string         `json:"user_agent"`
	RequestID  *string         `json:"request_id"`
	Metadata   json.RawMessage `json:"metadata"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

type auditList struct {
	Object  string       `json:"object"`
	Data    []auditEntry `json:"data"`
	HasMore bool         `json:"has_more"`
}

type auditVerification struct {
	Object    string  `json:"object"`
	OK        bool    `json:"ok"`
	Verified  int64   `json:"verified"`
	HeadSeq   int64   `json:"head_seq"`
	HeadHash  *string `json:"head_hash"`
	BrokenSeq *int64  `json:"broken_seq"`
	Problem   *string `json:"problem"`
	Detail    *string `json:"detail"`
}

// appendAudit adds e to org's chain in a tenant transaction of its own,
// sealing its personal fields with the server's key ring as the server
// does (a bundle of setupWith, whose ring the test does not know, appends
// entries without personal fields only).
func (b *bundle) appendAudit(t *testing.T, org uuid.UUID, e audit.Entry) audit.Record {
	t.Helper()
	ctx := context.Background()
	var rec audit.Record
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		var err error
		if b.ring == nil {
			rec, err = audit.Append(ctx, tx, org, e)
		} else {
			rec, err = audit.NewSealer(b.ring, 0).Append(ctx, tx, org, e)
		}
		return err
	}))
	return rec
}

// openedPersonal is what org's one entry of action (on targetID, "": any)
// recorded sealed, opened with the server's key ring as the server opens
// it.
func (b *bundle) openedPersonal(t testing.TB, org uuid.UUID, action, targetID string) audit.Personal {
	t.Helper()
	require.NotNil(t, b.ring, "a bundle whose server's key ring the test knows")
	ctx := context.Background()
	var p audit.Personal
	var openErr error
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		var targetType string
		var sealed []byte
		if err := tx.QueryRow(ctx, `SELECT target_type, target_id, personal FROM audit_log
			WHERE org_id = $1 AND action = $2 AND ($3 = '' OR target_id = $3)`,
			org, action, targetID).Scan(&targetType, &targetID, &sealed); err != nil {
			return err
		}
		key, err := audit.NewSealer(b.ring, 0).Key(ctx, tx, org)
		if err != nil || key == nil {
			return errors.Join(err, audit.ErrErased)
		}
		p, openErr = key.Open(action, targetType, targetID, sealed)
		return nil
	}))
	require.NoError(t, openErr)
	return p
}

// openedIP is the IP address org's one entry of action recorded.
func (b *bundle) openedIP(t *testing.T, org uuid.UUID, action string) string {
	t.Helper()
	return b.openedPersonal(t, org, action, "").IP.String()
}

// auditAll lists every entry key may see matching query, one page of 100.
func (b *bundle) auditAll(t *testing.T, key, query string) []auditEntry {
	t.Helper()
	var l auditList
	resp := b.call(t, http.MethodGet, "/v1/audit-log?limit=100&"+query, key, "", nil, &l)
	require.Equal(t, http.StatusOK, resp.StatusCode, query)
	require.False(t, l.HasMore, query)
	return l.Data
}

// exportCSV downloads the export for query and parses it back.
func (b *bundle) exportCSV(t *testing.T, key, query string) [][]string {
	t.Helper()
	resp := b.get(t, "/v1/audit-log/export.csv?"+query, "Authorization", "Bearer "+key)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "seq", rows[0][0], "a header row comes first")
	return rows[1:]
}

func seqs(entries []auditEntry) []int64 {
	out := make([]int64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}

func where(entries []auditEntry, keep func(auditEntry) bool) []int64 {
	out := []int64{}
	for _, e := range entries {
		if keep(e) {
			out = append(out, e.Seq)
		}
	}
	return out
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv, func(c *config.Config) { c.MaxBodyBytes = 1024 })
	orgA, keyA := b.seedOrg(t, "acme", server.ScopeRead, server.ScopeWrite)
	orgB, keyB := b.seedOrg(t, "globex", server.ScopeRead)
	const js = "application/json"

	recs := []audit.Record{
		b.appendAudit(t, orgA, audit.Entry{ActorType: audit.ActorSystem, ActorID: "billing", Action: "billing.event_received",
			TargetType: "event", TargetID: "evt_1", Metadata: map[string]any{"invoice": "in_Alpha"}}),
		b.appendAudit(t, orgA, audit.Entry{ActorType: audit.ActorMember, ActorID: "user_1", Action: "campaign.created",
			TargetType: "campaign", TargetID: "c1", Metadata: map[string]any{"name": "Summer Launch"}}),
		b.appendAudit(t, orgA, audit.Entry{ActorType: audit.ActorMember, ActorID: "user_2", Action: "campaign.updated",
			TargetType: "campaign", TargetID: "c1", Metadata: map[string]any{"name": "Winter"}}),
		b.appendAudit(t, orgA, audit.Entry{ActorType: audit.ActorOperator, ActorID: "op", Action: "organization.suspended",
			TargetType: "organization", TargetID: orgA.String()}),
		b.appendAudit(t, orgA, audit.Entry{ActorType: audit.ActorAPIKey, ActorID: `=HYPERLINK("https://evil.example")`,
			Action: "payout.dispatched", TargetType: "payout", TargetID: "+p1", IP: netip.MustParseAddr("192.0.2.7"),
			UserAgent: "curl/8", RequestID: "req-xyz", Metadata: map[string]any{"note": "=1+1", "quote": `say "hi", ok`}}),
	}
	for _, name := range []string{"ci", "deploy"} {
		resp := b.call(t, http.MethodPost, "/v1/api-keys", keyA, js, strings.NewReader(`{"name":"`+name+`","scopes":["read"]}`), nil)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
	}
	b.appendAudit(t, orgB, audit.Entry{ActorType: audit.ActorSystem, ActorID: "billing", Action: "billing.event_received",
		TargetType: "event", TargetID: "evt_1", Metadata: map[string]any{"invoice": "in_Alpha"}})
	b.appendAudit(t, orgB, audit.Entry{ActorType: audit.ActorMember, ActorID: "user_1", Action: "campaign.created",
		TargetType: "campaign", TargetID: "c1"})
	all := b.auditAll(t, keyA, "")

	t.Run("ListsEveryEntryNewestFirst", func(t *testing.T) {
		require.Equal(t, []int64{7, 6, 5, 4, 3, 2, 1}, seqs(all))
		e := all[2]
		require.Equal(t, "audit_entry", e.Object)
		require.Equal(t, recs[4].ID, e.ID)
		require.True(t, recs[4].OccurredAt.Equal(e.OccurredAt))
		require.Equal(t, auditRef{audit.ActorAPIKey, `=HYPERLINK("https://evil.example")`}, e.Actor)
		require.Equal(t, auditRef{"payout", "+p1"}, e.Target)
		require.Equal(t, "192.0.2.7", *e.IP)
		require.Equal(t, "curl/8", *e.UserAgent)
		require.Equal(t, "req-xyz", *e.RequestID)
		require.JSONEq(t, `{"note":"=1+1","quote":"say \"hi\", ok"}`, string(e.Metadata))
		require.Len(t, e.Hash, 64)
		require.Equal(t, all[3].Hash, e.PrevHash, "hashes chain, in hex")
		require.Equal(t, "api_key.created", all[0].Action)
		require.Nil(t, all[6].IP)
	})

	t.Run("EachFilterNarrows", func(t *testing.T) {
		at := func(i int) string { return url.QueryEscape(recs[i].OccurredAt.UTC().Format(time.RFC3339Nano)) }
		cases := map[string]struct {
			query string
			keep  func(auditEntry) bool
		}{
			"by actor type":              {"actor_type=member", func(e auditEntry) bool { return e.Actor.Type == "member" }},
			"by actor id":                {"actor_id=user_2", func(e auditEntry) bool { return e.Actor.ID == "user_2" }},
			"by action":                  {"action=api_key.created", func(e auditEntry) bool { return e.Action == "api_key.created" }},
			"by target type":             {"target_type=campaign", func(e auditEntry) bool { return e.Target.Type == "campaign" }},
			"by target":                  {"target_type=event&target_id=evt_1", func(e auditEntry) bool { return e.Target.ID == "evt_1" }},
			"after a time":               {"occurred_after=" + at(1), func(e auditEntry) bool { return e.OccurredAt.After(recs[1].OccurredAt) }},
			"before a time":              {"occurred_before=" + at(3), func(e auditEntry) bool { return e.OccurredAt.Before(recs[3].OccurredAt) }},
			"in a time range":            {"occurred_after=" + at(0) + "&occurred_before=" + at(4), func(e auditEntry) bool { return e.Seq > 1 && e.Seq < 5 }},
			"text in metadata, any case": {"q=sUMMER", func(e auditEntry) bool { return e.Seq == 2 }},
			"text in action":             {"q=CAMPAIGN.", func(e auditEntry) bool { return containsFold(e.Action, "campaign.") }},
			"text in target id":          {"q=%2Bp1", func(e auditEntry) bool { return e.Target.ID == "+p1" }},
			"text in actor id":           {"q=user_", func(e auditEntry) bool { return e.Seq == 2 || e.Seq == 3 }},
			"text and a filter":          {"q=in_alpha&actor_type=system", func(e auditEntry) bool { return e.Seq == 1 }},
			"nothing matches":            {"action=payout.failed", func(auditEntry) bool { return false }},
		}
		for name, tc := range cases {
			got := seqs(b.auditAll(t, keyA, tc.query))
			want := where(all, tc.keep)
			require.Equal(t, want, got, name)
			require.Less(t, len(got), len(all), name)
			if name != "nothing matches" {
				require.NotEmpty(t, got, name)
			}
		}
	})

	t.Run("PagesCoverEveryEntryOnce", func(t *testing.T) {
		var walked []auditEntry
		cursor := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10)
			var l auditList
			resp := b.call(t, http.MethodGet, "/v1/audit-log?limit=2"+cursor, keyA, "", nil, &l)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "list", l.Object)
			walked = append(walked, l.Data...)
			if !l.HasMore {
				break
			}
			require.Len(t, l.Data, 2)
			cursor = "&starting_after=" + strconv.FormatInt(l.Data[1].Seq, 10)
		}
		require.Equal(t, all, walked)
		filtered := b.auditAll(t, keyA, "actor_type=member")
		var page auditList
		b.call(t, http.MethodGet, "/v1/audit-log?actor_type=member&limit=1&starting_after="+strconv.FormatInt(filtered[0].Seq, 10), keyA, "", nil, &page)
		require.Equal(t, filtered[1:], page.Data, "the cursor composes with filters")
	})

	t.Run("ExportsCSVThatParsesBack", func(t *testing.T) {
		rows := b.exportCSV(t, keyA, "")
		require.Len(t, rows, len(all))
		for i, e := range all {
			row := rows[i]
			require.Len(t, row, 14)
			require.Equal(t, strconv.FormatInt(e.Seq, 10), row[0])
			require.Equal(t, e.ID.String(), row[1])
			at, err := time.Parse(time.RFC3339Nano, row[2])
			require.NoError(t, err)
			require.True(t, e.OccurredAt.Equal(at))
			require.Equal(t, []string{e.Actor.Type, e.Action, e.Target.Type}, []string{row[3], row[5], row[6]})
			require.JSONEq(t, string(e.Metadata), row[11])
			require.Equal(t, []string{e.PrevHash, e.Hash}, row[12:])
		}
		evil := rows[2]
		require.Equal(t, `'=HYPERLINK("https://evil.example")`, evil[4], "a formula is neutralised")
		require.Equal(t, "'+p1", evil[7])
		require.Equal(t, []string{"192.0.2.7", "curl/8", "req-xyz"}, evil[8:11])
		require.Equal(t, "user_1", rows[5][4], "plain text is left alone")

		members := b.exportCSV(t, keyA, "actor_type=member&q=winter")
		require.Len(t, members, 1)
		require.Equal(t, "3", members[0][0])
	})

	t.Run("VerifiesTheChain", func(t *testing.T) {
		var v auditVerification
		resp := b.call(t, http.MethodGet, "/v1/audit-log/verify", keyA, "", nil, &v)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, auditVerification{Object: "audit_verification", OK: true, Verified: 7, HeadSeq: 7, HeadHash: &all[0].Hash}, v)
	})

	t.Run("NeverCrossesOrganizations", func(t *testing.T) {
		other := b.auditAll(t, keyB, "")
		require.Equal(t, []int64{2, 1}, seqs(other))
		for _, e := range other {
			require.False(t, slices.ContainsFunc(all, func(a auditEntry) bool { return a.ID == e.ID }))
		}
		require.Equal(t, []int64{1}, seqs(b.auditAll(t, keyB, "q=in_alpha")))
		require.Empty(t, b.auditAll(t, keyB, "q=summer"), "org A's metadata is not searched")
		require.Empty(t, b.auditAll(t, keyB, "target_id="+orgA.String()))
		require.Len(t, b.exportCSV(t, keyB, ""), 2)
		var v auditVerification
		b.call(t, http.MethodGet, "/v1/audit-log/verify", keyB, "", nil, &v)
		require.True(t, v.OK)
		require.Equal(t, int64(2), v.Verified)
		var page auditList
		b.call(t, http.MethodGet, "/v1/audit-log?starting_after=100", keyB, "", nil, &page)
		require.Equal(t, []int64{2, 1}, seqs(page.Data), "a cursor never reaches another organization")
	})

	t.Run("RefusesBadQueries", func(t *testing.T) {
		cases := map[string]struct{ path, field string }{
			"bad timestamp":          {"/v1/audit-log?occurred_after=yesterday", "occurred_after"},
			"timestamp without zone": {"/v1/audit-log?occurred_before=2026-01-02T03:04:05", "occurred_before"},
			"empty time range":       {"/v1/audit-log?occurred_after=2026-01-02T00:00:00Z&occurred_before=2026-01-01T00:00:00Z", "occurred_before"},
			"limit too small":        {"/v1/audit-log?limit=0", "limit"},
			"limit too large":        {"/v1/audit-log?limit=101", "limit"},
			"cursor not a seq":       {"/v1/audit-log?starting_after=" + uuid.NewString(), "starting_after"},
			"unknown actor type":     {"/v1/audit-log?actor_type=robot", "actor_type"},
			"unknown parameter":      {"/v1/audit-log?actor=me", "actor"},
			"repeated parameter":     {"/v1/audit-log?action=a.b&action=c.d", "action"},
			"text too long":          {"/v1/audit-log?q=" + strings.Repeat("x", 201), "q"},
			"export has no pages":    {"/v1/audit-log/export.csv?limit=5", "limit"},
			"export bad timestamp":   {"/v1/audit-log/export.csv?occurred_before=soon", "occurred_before"},
			"verify takes no filter": {"/v1/audit-log/verify?action=a.b", "action"},
		}
		for name, tc := range cases {
			var p server.Problem
			resp := b.call(t, http.MethodGet, tc.path, keyA, "", nil, &p)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
			require.Equal(t, "urn:rekomi:problem:invalid_request", p.Type, name)
			require.Len(t, p.Errors, 1, name)
			require.Equal(t, tc.field, p.Errors[0].Field, name)
		}
		require.Equal(t, http.StatusUnauthorized, b.call(t, http.MethodGet, "/v1/audit-log", "", "", nil, nil).StatusCode)
	})
}

func TestAuditLogReportsTampering(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv)
	org, key := b.seedOrg(t, "acme", server.ScopeRead)
	for i := range 3 {
		b.appendAudit(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test", Action: "campaign.created",
			TargetType: "campaign", TargetID: "c" + strconv.Itoa(i)})
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, b.region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "SET session_replication_role = replica")
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "UPDATE audit_log SET target_id = 'forged' WHERE org_id = $1 AND seq = 2", org)
	require.NoError(t, err)

	var v auditVerification
	resp := b.call(t, http.MethodGet, "/v1/audit-log/verify", key, "", nil, &v)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, v.OK)
	require.Equal(t, int64(1), v.Verified)
	require.Equal(t, int64(1), v.HeadSeq)
	require.Equal(t, int64(2), *v.BrokenSeq)
	require.Equal(t, string(audit.ProblemHash), *v.Problem)
	require.Contains(t, *v.Detail, "entry 2")
}

func TestAuditLogExportSpansBatches(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	b := setup(t, srv)
	org, key := b.seedOrg(t, "acme", server.ScopeRead)
	ctx := context.Background()
	const n = 1203
	require.NoError(t, b.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_type, target_id)
			SELECT $1, 'system', 'import', 'affiliate.imported', 'affiliate', 'a' || i FROM generate_series(1, $2::int) i`, org, n)
		return err
	}))
	rows := b.exportCSV(t, key, "")
	require.Len(t, rows, n)
	for i, row := range rows {
		require.Equal(t, strconv.Itoa(n-i), row[0], "newest first, each entry once")
	}
	var want []string
	for i := n; i >= 1; i-- {
		if strings.Contains(strconv.Itoa(i), "1") {
			want = append(want, strconv.Itoa(i))
		}
	}
	var got []string
	for _, row := range b.exportCSV(t, key, "q=1") {
		got = append(got, row[0])
	}
	require.Equal(t, want, got, "the text filter holds across batches")
}
