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
	"crypto/rand"
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/keyring"
)

// errReachedDB is what recorder answers to every statement.
var errReachedDB = errors.New("statement reached the database")

// recorder stands in for a transaction and counts the statements sent to
// it, to show which entries are refused before any SQL.
type recorder struct{ statements int }

func (r *recorder) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	r.statements++
	return pgconn.CommandTag{}, errReachedDB
}

func (r *recorder) Query(context.Context, string, ...any) (pgx.Rows, error) {
	r.statements++
	return nil, errReachedDB
}

func (r *recorder) QueryRow(context.Context, string, ...any) pgx.Row {
	r.statements++
	return failedRow{}
}

type failedRow struct{}

func (failedRow) Scan(...any) error { return errReachedDB }

var _ db.DBTX = (*recorder)(nil)

func TestAppendValidatesBeforeAnySQL(t *testing.T) {
	t.Parallel()
	org := uuid.New()
	ring, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	sealer := audit.NewSealer(ring, 0)
	for name, tc := range map[string]struct {
		edit func(e *audit.Entry)
		want string // "" when the entry is valid and reaches the database
	}{
		"a valid entry reaches the database": {edit: func(*audit.Entry) {}},
		"an action without a dot":            {edit: func(e *audit.Entry) { e.Action = "created" }, want: "action"},
		"an action with upper case":          {edit: func(e *audit.Entry) { e.Action = "Campaign.created" }, want: "action"},
		"an action with an empty word":       {edit: func(e *audit.Entry) { e.Action = "campaign..created" }, want: "action"},
		"an action with a trailing dot":      {edit: func(e *audit.Entry) { e.Action = "campaign.created." }, want: "action"},
		"an action with a digit":             {edit: func(e *audit.Entry) { e.Action = "campaign.created2" }, want: "action"},
		"an action of 101 characters": {
			edit: func(e *audit.Entry) { e.Action = "a." + strings.Repeat("b", 99) }, want: "action is longer than 100",
		},
		"an unknown actor type":             {edit: func(e *audit.Entry) { e.ActorType = "robot" }, want: `unknown actor type "robot"`},
		"an empty actor type":               {edit: func(e *audit.Entry) { e.ActorType = "" }, want: "unknown actor type"},
		"a missing actor id":                {edit: func(e *audit.Entry) { e.ActorID = "" }, want: "actor id is required"},
		"a missing target type":             {edit: func(e *audit.Entry) { e.TargetType = "" }, want: "target type is required"},
		"a target id of 256 runes":          {edit: func(e *audit.Entry) { e.TargetID = strings.Repeat("é", 256) }, want: "target id is longer than 255"},
		"a target id of 255 two-byte runes": {edit: func(e *audit.Entry) { e.TargetID = strings.Repeat("é", 255) }},
		"a user agent over 1024 characters, not UTF-8, with a NUL (made storable, not refused)": {
			edit: func(e *audit.Entry) { e.UserAgent = strings.Repeat("u", 1025) + "\xff\x00" },
		},
		"a request id that is not UTF-8": {edit: func(e *audit.Entry) { e.RequestID = "req-\xff" }, want: "request id must be UTF-8"},
		"an actor id with a NUL":         {edit: func(e *audit.Entry) { e.ActorID = "a\x00b" }, want: "actor id must be UTF-8 text without NUL"},
		"an IPv6 address with a zone":    {edit: func(e *audit.Entry) { e.IP = netip.MustParseAddr("fe80::1%eth0") }},
		"metadata over 8 KiB of JSON": {
			edit: func(e *audit.Entry) { e.Metadata = map[string]any{"k": strings.Repeat("m", audit.MaxMetadataBytes)} },
			want: "metadata is 8200 bytes of JSON, more than 8192",
		},
		"metadata JSON cannot encode": {edit: func(e *audit.Entry) { e.Metadata = map[string]any{"x": math.NaN()} }, want: "encoding metadata"},
		"metadata with a NUL":         {edit: func(e *audit.Entry) { e.Metadata = map[string]any{"k": "a\x00b"} }, want: "NUL"},
		"a personal field named with upper case": {
			edit: func(e *audit.Entry) { e.Personal = map[string]string{"Email": "a@example.com"} }, want: "personal field name",
		},
		"a personal field that is also a metadata key": {
			edit: func(e *audit.Entry) {
				e.Metadata, e.Personal = map[string]any{"email": "x"}, map[string]string{"email": "a@example.com"}
			},
			want: "email is both a personal field and a metadata key",
		},
		"a personal value with a NUL": {
			edit: func(e *audit.Entry) { e.Personal = map[string]string{"email": "a\x00@example.com"} }, want: "personal field email",
		},
		"a personal value over 2048 characters": {
			edit: func(e *audit.Entry) { e.Personal = map[string]string{"destination_url": strings.Repeat("é", 2049)} },
			want: "personal field destination_url is longer than 2048",
		},
		"metadata quoting a backslash before u0000": {
			edit: func(e *audit.Entry) { e.Metadata = map[string]any{"k": `\u0000`} },
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := entry(1)
			tc.edit(&e)
			var rec recorder
			_, err := sealer.Append(context.Background(), &rec, org, e)
			if tc.want == "" {
				require.ErrorIs(t, err, errReachedDB)
				require.Equal(t, 1, rec.statements)
				return
			}
			require.ErrorIs(t, err, audit.ErrInvalidEntry)
			require.ErrorContains(t, err, tc.want)
			require.Zero(t, rec.statements, "an invalid entry must not reach the database")
		})
	}

	t.Run("RefusesNoOrganization", func(t *testing.T) {
		t.Parallel()
		var rec recorder
		_, err := audit.Append(context.Background(), &rec, uuid.Nil, entry(1))
		require.ErrorIs(t, err, db.ErrNoTenant)
		_, err = sealer.Append(context.Background(), &rec, uuid.Nil, entry(1))
		require.ErrorIs(t, err, db.ErrNoTenant)
		require.Zero(t, rec.statements)
	})

	t.Run("AppendWithoutASealerRefusesPersonalFields", func(t *testing.T) {
		t.Parallel()
		for name, edit := range map[string]func(e *audit.Entry){
			"an IP address": func(e *audit.Entry) { e.IP = netip.MustParseAddr("192.0.2.1") },
			"a user agent":  func(e *audit.Entry) { e.UserAgent = "curl/8" },
			"an email":      func(e *audit.Entry) { e.Personal = map[string]string{audit.FieldEmail: "a@example.com"} },
		} {
			e := entry(1)
			edit(&e)
			var rec recorder
			_, err := audit.Append(context.Background(), &rec, org, e)
			require.ErrorIs(t, err, audit.ErrInvalidEntry, name)
			require.ErrorContains(t, err, "only a Sealer stores", name)
			require.Zero(t, rec.statements, name)
		}
	})
}
