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

package storable_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/storable"
)

// TestJSON checks each document against PostgreSQL's jsonb too: what JSON
// returns is stored, and each document it changed was refused as it came.
func TestJSON(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(context.Background(), dbtest.Start(t).AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	var mu sync.Mutex
	storesAsJSONB := func(doc string) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := conn.Exec(context.Background(), `SELECT $1::text::jsonb`, doc)
		return err
	}
	for _, tc := range []struct {
		name, in, want string
		refused        bool // by jsonb, as it came
	}{
		{"a storable document is kept byte for byte", `{"b": 1, "a": [1.50, "x\\u0000y"]}`, `{"b": 1, "a": [1.50, "x\\u0000y"]}`, false},
		{"NUL is removed from strings", `{"note":"gift\u0000 for you","n":4.90}`, `{"n":4.90,"note":"gift for you"}`, true},
		{"NUL is removed from keys", `{"a\u0000":1}`, `{"a":1}`, true},
		{"invalid UTF-8 becomes a replacement character", "{\"note\":\"caf\xe9\"}", `{"note":"caf` + "\uFFFD" + `"}`, true},
		{"an unpaired surrogate becomes a replacement character", `["\uD800x"]`, `["` + "\uFFFD" + `x"]`, true},
		{"a paired surrogate is the same character", `["\ud83d\ude00"]`, `["😀"]`, false},
		{"a number past numeric's range is kept as its text", `{"w":1e999999,"v":[2E-5000]}`, `{"v":["2E-5000"],"w":"1e999999"}`, true},
		{"an exponent past int32 is kept as its text", `[1e99999999999]`, `["1e99999999999"]`, true},
		{"zero's exponent counts too", `[0e-99999999,0.0e3]`, `["0e-99999999",0.0e3]`, true},
		{"a fraction's trailing zeros count", `[1.` + strings.Repeat("0", 1001) + `]`, `["1.` + strings.Repeat("0", 1001) + `"]`, false},
		{"a key without NUL wins over one NUL made equal to it", `{"a":1,"a\u0000":2}`, `{"a":1}`, true},
		{"a thousand digits each side still fit", `[1e999,1e-999,123.456e3]`, `[1e999,1e-999,123.456e3]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := storable.JSON([]byte(tc.in))
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			require.True(t, utf8.Valid(got))
			require.True(t, json.Valid(got))
			require.NoError(t, storesAsJSONB(string(got)))
			if tc.refused {
				require.Error(t, storesAsJSONB(tc.in), "jsonb refuses the document as it came")
			} else {
				require.NoError(t, storesAsJSONB(tc.in))
			}
		})
	}
	for _, bad := range []string{``, `{"a":`, `{} {}`, `nul`, `{} x`} {
		_, err := storable.JSON([]byte(bad))
		require.Error(t, err, "%q is not one JSON document", bad)
	}
}

// FuzzJSON: whatever valid JSON comes in, what comes out is valid JSON in
// valid UTF-8 with no NUL, and storing it again changes nothing.
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{`{"a":"b\u0000"}`, "[\"\xff\"]", `[1e99999,-0.5e-3,"\ud800"]`, `{"k":{"x\u0000":[true,null]}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		got, err := storable.JSON(in)
		require.NoError(t, err)
		require.True(t, json.Valid(got))
		require.True(t, utf8.Valid(got))
		var v any
		dec := json.NewDecoder(bytes.NewReader(got))
		dec.UseNumber() // a number past float64, such as 1e700, is kept
		require.NoError(t, dec.Decode(&v))
		require.NotContains(t, fmt.Sprint(v), "\x00")
		again, err := storable.JSON(got)
		require.NoError(t, err)
		require.Equal(t, string(got), string(again))
	})
}
