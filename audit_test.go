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
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/audit/audittest"
	"github.com/rekomi/rekomi/app/db"
	"github.com/rekomi/rekomi/app/dbtest"
	"github.com/rekomi/rekomi/app/dbtest/regiondb"
	"github.com/rekomi/rekomi/controllers"
)

func TestAuditVerifyCommand(t *testing.T) {
	srv := dbtest.Start(t)
	region := regiondb.New(t, srv)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, region.AdminURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	app, err := db.Open(ctx, region.RuntimeURL)
	require.NoError(t, err)
	defer app.Close()
	org, other := uuid.New(), uuid.New()
	for i, id := range []uuid.UUID{org, other} {
		_, err := admin.Exec(ctx, `INSERT INTO organizations (id, name, display_name, plan) VALUES ($1, $2, $2, 'pro')`, id, "org"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	for i := range 3 {
		require.NoError(t, app.TenantTx(ctx, org, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, org, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test",
				Action: "campaign.created", TargetType: "campaign", TargetID: "c" + strconv.Itoa(i)})
			return err
		}))
	}
	verify := func(url string, id uuid.UUID) (int, string, string) {
		return runArgs(t, "audit", "verify", "--database-url", url, "--org", id.String())
	}

	t.Run("IntactChainThroughRowLevelSecurity", func(t *testing.T) {
		code, stdout, stderr := verify(region.RuntimeURL, org)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, fmt.Sprintf("organization %s: 3 entries verified, chain intact\n", org), stdout)
		code, stdout, _ = verify(region.RuntimeURL, other)
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "0 entries verified", "another organization's entries are not counted")
	})

	t.Run("BrokenChainExitsFive", func(t *testing.T) {
		_, err := admin.Exec(ctx, "SET session_replication_role = replica")
		require.NoError(t, err)
		_, err = admin.Exec(ctx, "UPDATE audit_log SET metadata = '{\"forged\": true}' WHERE org_id = $1 AND seq = 2", org)
		require.NoError(t, err)
		for _, url := range []string{region.RuntimeURL, region.AdminURL} {
			code, stdout, stderr := verify(url, org)
			require.Equal(t, exitChainBroken, code, stderr)
			require.Equal(t, fmt.Sprintf("organization %s: chain broken at seq 2 (hash): entry 2: hash does not match "+
				"the entry's contents; 1 entries verified before it\n", org), stdout)
			require.Contains(t, stderr, "audit chain broken at seq 2")
		}
	})

	t.Run("AChainRewrittenWithItsHashesDepartsFromItsWitness", func(t *testing.T) {
		for i := range 3 {
			require.NoError(t, app.TenantTx(ctx, other, func(tx pgx.Tx) error {
				_, err := audit.Append(ctx, tx, other, audit.Entry{ActorType: audit.ActorSystem, ActorID: "test",
					Action: "campaign.created", TargetType: "campaign", TargetID: "c" + strconv.Itoa(i)})
				return err
			}))
		}
		file, publicKey := writeWitness(t, app, other)
		witnessed := func() (int, string, string) {
			return runArgs(t, "audit", "verify", "--database-url", region.RuntimeURL, "--org", other.String(),
				"--witness", file, "--witness-public-key", publicKey)
		}
		code, stdout, stderr := witnessed()
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "3 entries verified, chain intact, and holds the head witnessed at seq 3")

		audittest.RewriteAsOwner(t, region.OwnerURL, other, 3)
		code, stdout, _ = verify(region.RuntimeURL, other)
		require.Equal(t, 0, code, "without its witness the rewritten chain looks intact")
		require.Contains(t, stdout, "3 entries verified, chain intact")
		code, stdout, stderr = witnessed()
		require.Equal(t, exitChainBroken, code, stderr)
		require.Contains(t, stdout, fmt.Sprintf("organization %s: chain departs from its witness from seq 1: ", other))

		code, _, stderr = runArgs(t, "audit", "verify", "--database-url", region.RuntimeURL, "--org", org.String(),
			"--witness", file, "--witness-public-key", publicKey)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "audit witness does not verify", "another organization's witness is refused")
	})

	t.Run("UsageErrors", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"audit"}, "Usage: rekomi audit <command>"},
			{[]string{"audit", "check"}, `rekomi audit: unknown command "check"`},
			{[]string{"audit", "verify", "--org", org.String()}, "no database"},
			{[]string{"audit", "verify", "--database-url", region.RuntimeURL}, "no organization"},
			{[]string{"audit", "verify", "--database-url", region.RuntimeURL, "--org", "acme"}, "--org must be an organization id"},
			{[]string{"audit", "verify", "extra"}, `rekomi audit verify: unexpected argument "extra"`},
			{[]string{"audit", "verify", "--database-url", region.RuntimeURL, "--org", org.String(), "--witness", "w.json"},
				"--witness and --witness-public-key go together"},
			{[]string{"audit", "verify", "--database-url", region.RuntimeURL, "--org", org.String(), "--witness", "w.json",
				"--witness-public-key", "c2hvcnQ="}, "--witness-public-key must be 32 bytes in base64"},
		} {
			code, _, stderr := runArgs(t, tc.args...)
			require.Equal(t, 2, code, tc.args)
			require.Contains(t, stderr, tc.want, tc.args)
		}
		_, stdout, _ := runArgs(t, "audit", "verify", "-h")
		require.Contains(t, stdout, "5 chain broken")
	})

	t.Run("UnreachableDatabaseExitsOne", func(t *testing.T) {
		code, _, _ := verify("postgres://nobody@127.0.0.1:1/none?connect_timeout=1", org)
		require.Equal(t, 1, code)
	})
}

// writeWitness witnesses org's head with a new key, writes it as the
// Organization's status.audit would read in JSON, and returns the file and
// the public key in base64.
func writeWitness(t *testing.T, app *db.DB, org uuid.UUID) (file, publicKey string) {
	t.Helper()
	ctx := context.Background()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var v audit.Verification
	require.NoError(t, app.TenantTx(ctx, org, func(tx pgx.Tx) (err error) {
		v, err = audit.Verify(ctx, tx, org)
		return err
	}))
	w, err := audit.Witness{OrgID: org}.Witnessed(audit.Checkpoint{Seq: v.Verified, Hash: v.Head, At: time.Now().UTC().Truncate(time.Second)}, 11, key)
	require.NoError(t, err)
	data, err := json.Marshal(controllers.WitnessToStatus(w))
	require.NoError(t, err)
	file = filepath.Join(t.TempDir(), "witness.json")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	return file, base64.StdEncoding.EncodeToString(pub)
}
