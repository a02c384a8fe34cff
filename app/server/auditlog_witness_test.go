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
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/audit/audittest"
	"github.com/rekomi/rekomi/app/config"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/server"
)

// witnessedVerification is the answer of GET /v1/audit-log/verify with its
// witness.
type witnessedVerification struct {
	auditVerification
	Witness struct {
		State               string     `json:"state"`
		Seq                 *int64     `json:"seq"`
		WitnessedAt         *time.Time `json:"witnessed_at"`
		FirstDisagreeingSeq *int64     `json:"first_disagreeing_seq"`
	} `json:"witness"`
}

// witnessBundle is a server whose app reads witnesses from dir, signed
// with key, and an organization with three audit entries.
type witnessBundle struct {
	*bundle
	dir     string
	key     ed25519.PrivateKey
	org     uuid.UUID
	apiKey  string
	entries []audit.Record
}

func setupWitness(t *testing.T, srv *dbtest.Server) *witnessBundle {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	dir := t.TempDir()
	b := setup(t, srv, func(c *config.Config) {
		c.AuditWitnessDir, c.AuditWitnessPublicKey = dir, base64.StdEncoding.EncodeToString(pub)
	})
	wb := &witnessBundle{bundle: b, dir: dir, key: key}
	wb.org, wb.apiKey = b.seedOrg(t, "acme", server.ScopeRead)
	for i := range 3 {
		wb.entries = append(wb.entries, b.appendAudit(t, wb.org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test",
			Action: "campaign.created", TargetType: "campaign", TargetID: "c" + strconv.Itoa(i)}))
	}
	return wb
}

// witness is the operator's witness of org's chain at rec, signed with key.
func witness(t *testing.T, org uuid.UUID, rec audit.Record, at time.Time, key ed25519.PrivateKey) audit.Witness {
	t.Helper()
	w, err := audit.Witness{OrgID: org}.Witnessed(audit.Checkpoint{Seq: rec.Seq, Hash: rec.Hash, At: at}, 11, key)
	require.NoError(t, err)
	return w
}

// publish writes data as org's witness file the way the kubelet updates a
// ConfigMap volume: a new file renamed over the old one.
func (b *witnessBundle) publish(t *testing.T, org uuid.UUID, data []byte) {
	t.Helper()
	tmp := filepath.Join(b.dir, "."+org.String()+".tmp")
	require.NoError(t, os.WriteFile(tmp, data, 0o644))
	require.NoError(t, os.Rename(tmp, filepath.Join(b.dir, org.String())))
}

func (b *witnessBundle) publishWitness(t *testing.T, w audit.Witness) {
	t.Helper()
	data, err := json.Marshal(w)
	require.NoError(t, err)
	b.publish(t, b.org, data)
}

func (b *witnessBundle) verify(t *testing.T) witnessedVerification {
	t.Helper()
	var v witnessedVerification
	resp := b.call(t, http.MethodGet, "/v1/audit-log/verify", b.apiKey, "", nil, &v)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return v
}

// TestAuditLogVerifyAgainstWitness plays the database owner, who can turn
// the append-only trigger off, edit an entry and recompute the chain: the
// chain then verifies on its own, and only the operator's witness shows
// the rewrite.
func TestAuditLogVerifyAgainstWitness(t *testing.T) {
	t.Parallel()
	srv := dbtest.Start(t)
	_, doc := loadOpenAPI(t)
	schema := responseSchema(t, doc, "get", "/v1/audit-log/verify", "200", "application/json")
	conforms := func(t *testing.T, v witnessedVerification) {
		t.Helper()
		var generic any
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &generic))
		require.Empty(t, schemaMismatches(t, doc, schema, generic, "verification"))
	}

	t.Run("ReportsTheOwnersRewriteWithTheFirstSeq", func(t *testing.T) {
		t.Parallel()
		b := setupWitness(t, srv)
		at := time.Now().UTC().Truncate(time.Second)
		b.publishWitness(t, witness(t, b.org, b.entries[2], at, b.key))

		v := b.verify(t)
		require.True(t, v.OK, "%+v", v)
		require.Equal(t, "agrees", v.Witness.State)
		require.Equal(t, int64(3), *v.Witness.Seq)
		require.True(t, at.Equal(*v.Witness.WitnessedAt))
		require.Nil(t, v.Witness.FirstDisagreeingSeq)
		conforms(t, v)

		audittest.RewriteAsOwner(t, b.region.OwnerURL, b.org, 3)
		v = b.verify(t)
		require.Nil(t, v.Problem, "the rewritten chain verifies on its own")
		require.Equal(t, int64(3), v.Verified)
		require.False(t, v.OK, "a chain that departs from its witness is not ok: %+v", v)
		require.Equal(t, "disagrees", v.Witness.State)
		require.NotNil(t, v.Witness.FirstDisagreeingSeq)
		require.Equal(t, int64(1), *v.Witness.FirstDisagreeingSeq)
		require.Equal(t, int64(3), *v.Witness.Seq)
		conforms(t, v)
	})

	t.Run("ReadsANewWitnessAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setupWitness(t, srv)
		at := time.Now().UTC().Truncate(time.Second)
		b.publishWitness(t, witness(t, b.org, b.entries[1], at, b.key))
		v := b.verify(t)
		require.Equal(t, "agrees", v.Witness.State)
		require.Equal(t, int64(2), *v.Witness.Seq)

		w, err := witness(t, b.org, b.entries[1], at, b.key).Witnessed(
			audit.Checkpoint{Seq: 3, Hash: b.entries[2].Hash, At: at.Add(time.Minute)}, 11, b.key)
		require.NoError(t, err)
		b.publishWitness(t, w)
		v = b.verify(t)
		require.Equal(t, "agrees", v.Witness.State)
		require.Equal(t, int64(3), *v.Witness.Seq, "the file is read again on each request")
	})

	t.Run("FailsClosedOnAnUnusableWitness", func(t *testing.T) {
		t.Parallel()
		b := setupWitness(t, srv)
		other, err := uuid.NewRandom()
		require.NoError(t, err)
		_, stranger, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		at := time.Now().UTC().Truncate(time.Second)
		good := witness(t, b.org, b.entries[2], at, b.key)
		encode := func(w audit.Witness) []byte {
			data, err := json.Marshal(w)
			require.NoError(t, err)
			return data
		}
		tampered := good
		tampered.Checkpoints = []audit.Checkpoint{{Seq: 3, Hash: b.entries[1].Hash, At: at}}
		cases := map[string][]byte{
			"another organization's witness":     encode(witness(t, other, b.entries[2], at, b.key)),
			"a witness signed by another key":    encode(witness(t, b.org, b.entries[2], at, stranger)),
			"a checkpoint changed after signing": encode(tampered),
			"garbage bytes":                      {0x00, 0xff, 0x7b, 0x22},
			"an empty file":                      {},
			"JSON of another shape":              []byte(`{"orgID":"` + b.org.String() + `","checkpoints":[],"extra":1}`),
			"an oversize file":                   []byte(`{"orgID":"` + b.org.String() + `","keyID":"` + strings.Repeat("a", 70<<10) + `"}`),
		}
		for name, data := range cases {
			b.publish(t, b.org, data)
			v := b.verify(t)
			require.Equal(t, "unverifiable", v.Witness.State, name)
			require.False(t, v.OK, name)
			require.Nil(t, v.Witness.Seq, name)
			require.Nil(t, v.Witness.FirstDisagreeingSeq, name)
			require.Nil(t, v.Problem, "%s: the chain itself is intact", name)
			conforms(t, v)
		}

		require.NoError(t, os.Remove(filepath.Join(b.dir, b.org.String())))
		require.NoError(t, os.Mkdir(filepath.Join(b.dir, b.org.String()), 0o755))
		v := b.verify(t)
		require.Equal(t, "unverifiable", v.Witness.State, "a directory where the file should be")
		require.False(t, v.OK)
	})

	t.Run("ANewOrganizationIsNotWitnessedYet", func(t *testing.T) {
		t.Parallel()
		b := setupWitness(t, srv)
		v := b.verify(t)
		require.Equal(t, "not_witnessed", v.Witness.State)
		require.True(t, v.OK, "the chain alone verifies: %+v", v)
		require.Nil(t, v.Witness.Seq)
		require.Nil(t, v.Witness.WitnessedAt)
		conforms(t, v)
	})

	t.Run("NotConfigured", func(t *testing.T) {
		t.Parallel()
		b := setup(t, srv)
		org, key := b.seedOrg(t, "acme", server.ScopeRead)
		b.appendAudit(t, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test", Action: "campaign.created",
			TargetType: "campaign", TargetID: "c"})
		var v witnessedVerification
		require.Equal(t, http.StatusOK, b.call(t, http.MethodGet, "/v1/audit-log/verify", key, "", nil, &v).StatusCode)
		require.Equal(t, "not_configured", v.Witness.State)
		require.True(t, v.OK)
		conforms(t, v)
	})
}
