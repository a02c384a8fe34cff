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
	"encoding/json"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// list runs the Sealer's List as the app does, in org's tenant transaction.
func (b *bundle) list(t *testing.T, org uuid.UUID, f audit.Filter, before int64, limit int) []audit.StoredEntry {
	t.Helper()
	var entries []audit.StoredEntry
	require.NoError(t, b.app.TenantTx(context.Background(), org, func(tx pgx.Tx) (err error) {
		entries, err = b.sealer.List(context.Background(), tx, org, f, before, limit)
		return err
	}))
	return entries
}

// listSeqs is the seqs List finds, newest first.
func (b *bundle) listSeqs(t *testing.T, org uuid.UUID, f audit.Filter) []int64 {
	t.Helper()
	return seqsOf(b.list(t, org, f, 0, 100))
}

// listedLog appends five entries of different actors, actions and
// targets to a new organization, the fourth with personal fields, and
// returns the organization and the entries' records.
func (b *bundle) listedLog(t *testing.T) (uuid.UUID, []audit.Record) {
	t.Helper()
	org := b.newOrg(t)
	return org, []audit.Record{
		b.append(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "billing", Action: "billing.event_received",
			TargetType: "event", TargetID: "evt_1", Metadata: map[string]any{"invoice": "in_Alpha"}}),
		b.append(t, org, audit.Entry{ActorType: audit.ActorMember, ActorID: "user_1", Action: "campaign.created",
			TargetType: "campaign", TargetID: "c1", Metadata: map[string]any{"name": "Summer Launch"}}),
		b.append(t, org, audit.Entry{ActorType: audit.ActorMember, ActorID: "user_2", Action: "campaign.updated",
			TargetType: "campaign", TargetID: "c1", Metadata: map[string]any{"name": "Winter"}}),
		b.append(t, org, personalEntry("a-1")),
		b.append(t, org, audit.Entry{ActorType: audit.ActorOperator, ActorID: "op", Action: "organization.suspended",
			TargetType: "organization", TargetID: org.String()}),
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("EachFilterNarrows", func(t *testing.T) {
		t.Parallel()
		org, recs := b.listedLog(t)
		other := b.newOrg(t)
		b.append(t, other, personalEntry("a-1"))
		b.append(t, other, audit.Entry{ActorType: audit.ActorMember, ActorID: "user_1", Action: "campaign.created",
			TargetType: "campaign", TargetID: "c1", Personal: map[string]string{audit.FieldEmail: "only.theirs@example.org"}})
		at := func(i int) *time.Time { at := recs[i].OccurredAt; return &at }
		require.Equal(t, []int64{5, 4, 3, 2, 1}, b.listSeqs(t, org, audit.Filter{}))
		cases := map[string]struct {
			filter audit.Filter
			want   []int64
		}{
			"by actor type":                           {audit.Filter{ActorType: audit.ActorMember}, []int64{3, 2}},
			"by actor id":                             {audit.Filter{ActorID: "user_2"}, []int64{3}},
			"by action":                               {audit.Filter{Action: "campaign.created"}, []int64{2}},
			"by target type":                          {audit.Filter{TargetType: "campaign"}, []int64{3, 2}},
			"by target":                               {audit.Filter{TargetType: "affiliate", TargetID: "a-1"}, []int64{4}},
			"after a time, exclusive":                 {audit.Filter{After: at(1)}, []int64{5, 4, 3}},
			"before a time, exclusive":                {audit.Filter{Before: at(3)}, []int64{3, 2, 1}},
			"in a time range":                         {audit.Filter{After: at(0), Before: at(4)}, []int64{4, 3, 2}},
			"text in metadata, any case":              {audit.Filter{Text: "sUMMER"}, []int64{2}},
			"text in action":                          {audit.Filter{Text: "CAMPAIGN."}, []int64{3, 2}},
			"text in target id":                       {audit.Filter{Text: "evt_"}, []int64{1}},
			"text in actor id":                        {audit.Filter{Text: "user_"}, []int64{3, 2}},
			"text is not searched in personal fields": {audit.Filter{Text: "zed.seed"}, nil},
			"text and a filter":                       {audit.Filter{Text: "in_alpha", ActorType: audit.ActorSystem}, []int64{1}},
			"a personal value, trimmed, any case":     {audit.Filter{Match: " zed.seed@EXAMPLE.org "}, []int64{4}},
			"a personal value in its field":           {audit.Filter{Match: seedURL, MatchField: audit.FieldDestinationURL}, []int64{4}},
			"a personal value in another field":       {audit.Filter{Match: seedURL, MatchField: audit.FieldEmail}, nil},
			"another organization's personal value":   {audit.Filter{Match: "only.theirs@example.org"}, nil},
			"nothing matches":                         {audit.Filter{Action: "payout.failed"}, nil},
		}
		for name, tc := range cases {
			got := b.listSeqs(t, org, tc.filter)
			if tc.want == nil {
				require.Empty(t, got, name)
				continue
			}
			require.Equal(t, tc.want, got, name)
		}
		require.Equal(t, []int64{2}, b.listSeqs(t, other, audit.Filter{Match: "only.theirs@example.org"}),
			"the organization that recorded the value finds it")
	})

	t.Run("AMatchFindsNothingWithoutADataKey", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.append(t, org, entry(1))
		require.Equal(t, []int64{1}, b.listSeqs(t, org, audit.Filter{}))
		require.Empty(t, b.listSeqs(t, org, audit.Filter{Match: "member-1"}))
	})

	t.Run("PagesByLimitAndSeq", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.appendN(t, org, 5)
		require.Equal(t, []int64{5, 4}, seqsOf(b.list(t, org, audit.Filter{}, 0, 2)))
		require.Equal(t, []int64{3, 2}, seqsOf(b.list(t, org, audit.Filter{}, 4, 2)))
		require.Equal(t, []int64{1}, seqsOf(b.list(t, org, audit.Filter{}, 2, 2)))
	})

	t.Run("ShowsEntriesAsTheAPIDoes", func(t *testing.T) {
		t.Parallel()
		org, recs := b.listedLog(t)
		e := b.list(t, org, audit.Filter{Action: "affiliate.invited"}, 0, 10)[0]
		require.Equal(t, "audit_entry", e.Object)
		require.Equal(t, recs[3].ID, e.ID)
		require.True(t, recs[3].OccurredAt.Equal(e.OccurredAt))
		require.Equal(t, time.UTC, e.OccurredAt.Location())
		require.Equal(t, audit.Ref{Type: audit.ActorAPIKey, ID: "key-1"}, e.Actor)
		require.Equal(t, audit.Ref{Type: "affiliate", ID: "a-1"}, e.Target)
		require.Equal(t, seedIP, *e.IP)
		require.Equal(t, seedUA, *e.UserAgent)
		require.JSONEq(t, `{"campaign_id":"c-1","email":"`+seedEmail+`","destination_url":"`+seedURL+`"}`, string(e.Metadata))
		require.False(t, e.Erased)
		require.NoError(t, e.OpenErr)
		require.Nil(t, e.Sealed)
		require.Len(t, e.Hash, 64)
		prev := b.list(t, org, audit.Filter{}, e.Seq, 1)[0]
		require.Equal(t, prev.Hash, e.PrevHash, "hashes chain, in hex")

		out, err := json.Marshal(e)
		require.NoError(t, err)
		var keys map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(out, &keys))
		require.ElementsMatch(t, []string{"object", "seq", "id", "occurred_at", "actor", "action", "target", "ip",
			"user_agent", "request_id", "metadata", "prev_hash", "hash"}, slices.Collect(maps.Keys(keys)))
	})

	t.Run("ADamagedEntryDoesNotHideTheOthers", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.append(t, org, personalEntry("a-1"))
		b.append(t, org, personalEntry("a-2"))
		b.tamper(t, `UPDATE audit_log SET personal = (SELECT personal FROM audit_log WHERE org_id = $1 AND seq = 2)
			WHERE org_id = $1 AND seq = 1`, org)
		entries := b.list(t, org, audit.Filter{}, 0, 10)
		require.Equal(t, []int64{2, 1}, seqsOf(entries))
		require.NoError(t, entries[0].OpenErr)
		require.Equal(t, seedIP, *entries[0].IP)
		require.Error(t, entries[1].OpenErr, "sealed for another entry")
		require.True(t, entries[1].Erased)
		require.Nil(t, entries[1].IP)
		require.NotContains(t, string(entries[1].Metadata), "email")
	})

	t.Run("ADeletedKeyErasesWhatIsListed", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.append(t, org, personalEntry("a-1"))
		_, err := b.admin.Exec(ctx, `DELETE FROM org_data_keys WHERE org_id = $1`, org)
		require.NoError(t, err)
		e := b.list(t, org, audit.Filter{}, 0, 10)[0]
		require.True(t, e.Erased)
		require.NoError(t, e.OpenErr, "an erased entry is not a damaged one")
		require.Nil(t, e.IP)
		require.Nil(t, e.UserAgent)
		require.JSONEq(t, `{"campaign_id":"c-1"}`, string(e.Metadata))
		require.Empty(t, b.listSeqs(t, org, audit.Filter{Match: seedEmail}))
	})

	t.Run("GetReadsOneEntryOpened", func(t *testing.T) {
		t.Parallel()
		org := b.newOrg(t)
		b.append(t, org, personalEntry("a-1"))
		require.NoError(t, b.app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			e, err := b.sealer.Get(ctx, tx, org, 1)
			require.NoError(t, err)
			require.Equal(t, netip.MustParseAddr(seedIP).String(), *e.IP)
			require.Contains(t, string(e.Metadata), seedURL)
			_, err = b.sealer.Get(ctx, tx, org, 2)
			require.ErrorIs(t, err, db.ErrNotFound)
			return nil
		}))
	})
}

func seqsOf(entries []audit.StoredEntry) []int64 {
	seqs := make([]int64, len(entries))
	for i, e := range entries {
		seqs[i] = e.Seq
	}
	return seqs
}
