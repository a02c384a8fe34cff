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

package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/app/server"
	"github.com/rekomi/rekomi/app/trust"
)

// servedStatement is the /trust.json of an app on a real Region database,
// signed with key.
func servedStatement(t *testing.T, key ed25519.PrivateKey) []byte {
	t.Helper()
	region := regiondb.New(t, dbtest.Start(t))
	database, err := db.Open(context.Background(), region.RuntimeURL)
	require.NoError(t, err)
	t.Cleanup(database.Close)
	cfg := config.Defaults()
	cfg.Region, cfg.Location, cfg.PublicBaseURL = "eu", "eu", "https://eu.example.com"
	srv := httptest.NewServer(server.New(cfg, database, slog.New(slog.DiscardHandler), server.WithTrust(key, "v-test")).Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/trust.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	return data
}

func TestTrustVerifyCommand(t *testing.T) {
	t.Parallel()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	data := servedStatement(t, key)
	pub := trust.PublicKeyString(key)
	file := func(data []byte) string {
		f := filepath.Join(t.TempDir(), "trust.json")
		require.NoError(t, os.WriteFile(f, data, 0o600))
		return f
	}

	t.Run("AcceptsTheRegionsStatementAndSaysWhatItClaims", func(t *testing.T) {
		code, stdout, stderr := runArgs(t, "trust", "verify", "--public-key", pub, file(data))
		require.Equal(t, 0, code, stderr)
		require.Regexp(t, `^signed by region eu \(eu\), issued \S+ \(\d+s ago\): at least one claim fails\n`, stdout)
		require.Contains(t, stdout, "holds  tenant_tables")
		require.Contains(t, stdout, "FAILS  database_transport", "the test database is not reached over TLS")
	})

	t.Run("AcceptsItReencoded", func(t *testing.T) {
		var signed map[string]any
		require.NoError(t, json.Unmarshal(data, &signed))
		compact, err := json.Marshal(signed) // other key order, no white space
		require.NoError(t, err)
		code, _, stderr := runArgs(t, "trust", "verify", "--public-key", pub, file(compact))
		require.Equal(t, 0, code, stderr)
	})

	// The attacks: a statement changed after signing, one signed by
	// another key (naming it, or naming the Region's), and what is not a
	// statement at all.
	var signed trust.Signed
	require.NoError(t, json.Unmarshal(data, &signed))
	changed := bytes.Replace(data, []byte(`"region": "eu"`), []byte(`"region": "us"`), 1)
	require.NotEqual(t, data, changed)
	var statement trust.Statement
	require.NoError(t, json.Unmarshal(signed.Statement, &statement))
	statement.Holds = true
	forged, err := trust.Sign(statement, stranger)
	require.NoError(t, err)
	var forgedDoc trust.Signed
	require.NoError(t, json.Unmarshal(forged, &forgedDoc))
	forgedDoc.Signature.PublicKey = pub
	namesTheRegion, err := json.Marshal(forgedDoc)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"a value changed after signing":                 {changed, "the signature does not match the statement"},
		"re-signed by another key, which it names":      {forged, "signed by another key"},
		"re-signed by another key, naming the Region's": {namesTheRegion, "the signature does not match the statement"},
		"not JSON":                                   {[]byte("<html>"), "not a signed trust statement"},
		"a statement without its signature":          {signed.Statement, "not a signed trust statement"},
		"the statement followed by another document": {append(append([]byte{}, data...), []byte(`{"statement":{"holds":true}}`)...), "data after the document"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runArgs(t, "trust", "verify", "--public-key", pub, file(tc.data))
			require.Equal(t, exitTrustRefused, code, stderr)
			require.Contains(t, stderr, "refused: ")
			require.Contains(t, stderr, tc.want)
			require.Empty(t, stdout, "nothing of a refused statement is printed")
		})
	}

	t.Run("RefusesAnotherFormatSignedByTheKey", func(t *testing.T) {
		other, err := trust.Sign(map[string]any{"format": "rekomi.trust.v0", "region": "eu"}, key)
		require.NoError(t, err)
		code, stdout, stderr := runArgs(t, "trust", "verify", "--public-key", pub, file(other))
		require.Equal(t, 1, code, stderr)
		require.Contains(t, stderr, `not a statement of format rekomi.trust.v1 that this version reads (format "rekomi.trust.v0")`)
		require.Empty(t, stdout)
	})

	t.Run("BadUsage", func(t *testing.T) {
		for _, args := range [][]string{
			{"trust", "verify", "--public-key", pub},
			{"trust", "verify", "--public-key", pub, "a", "b"},
			{"trust", "verify", "--public-key", "not-base64!", file(data)},
			{"trust", "verify", file(data)},
		} {
			code, _, _ := runArgs(t, args...)
			require.Equal(t, 2, code, "%v", args)
		}
	})
}
