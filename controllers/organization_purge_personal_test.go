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

package controllers_test

import (
	"context"
	"encoding/hex"
	"net/netip"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/keyring"
	"github.com/rekomi/rekomi/controllers"
)

// Personal values an organization's entries and rows record before purge.
const (
	purgedEmail = "grace.purged@example.net"
	purgedIP    = "203.0.113.201"
	purgedUA    = "ForgetMe/2.0"
	purgedURL   = "https://grace-purged.example/offer"
)

// inTenant runs fn in a transaction of org's tenant on conn.
func inTenant(t *testing.T, conn *pgx.Conn, org uuid.UUID, fn func(tx pgx.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('rekomi.org_id', $1, true)", org.String()); err != nil {
			return err
		}
		return fn(tx)
	})
}

// tablesMentioning names the tables of the Region database whose rows
// mention text, as text or as the hex of its bytes, read as the admin.
func tablesMentioning(t *testing.T, conn *pgx.Conn, text string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "org_data_keys")
	var found []string
	for _, table := range tables {
		var n int
		queryRow(t, conn, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` t
			WHERE strpos(lower(t::text), lower($1)) > 0 OR strpos(t::text, $2) > 0`, []any{text, hex.EncodeToString([]byte(text))}, &n)
		if n > 0 {
			found = append(found, table)
		}
	}
	return found
}

// TestPurgeForgetsPeopleButKeepsTheProof purges an organization whose audit
// entries sealed an affiliate's email, a link's destination and a client's
// IP address and user agent: the data key goes with the purge, the entries
// stay and still verify, against the chain and against the witness signed
// before the purge, and neither the database nor the Region's key ring can
// give the personal values back.
func TestPurgeForgetsPeopleButKeepsTheProof(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	f.reconciler.OperatorNamespace = newNamespace(t)
	conn := f.conn(t)
	org := f.newOrg(t)
	id := uuid.MustParse(f.provision(t, org).Status.ID)
	seedTenantRows(t, conn, id.String())
	_, err := conn.Exec(ctx, "INSERT INTO affiliates (org_id, email) VALUES ($1, $2)", id, purgedEmail)
	require.NoError(t, err)

	ring, err := keyring.Parse(f.rf.secret(t, controllers.KeyRingSecretName(f.region.Name)).Data[keyring.SecretKey])
	require.NoError(t, err)
	sealer := audit.NewSealer(ring, 0)
	for i, target := range []string{"a-1", "a-2"} {
		require.NoError(t, inTenant(t, conn, id, func(tx pgx.Tx) error {
			_, err := sealer.Append(ctx, tx, id, audit.Entry{ActorType: audit.ActorAPIKey, ActorID: "key-1",
				Action: "affiliate.invited", TargetType: "affiliate", TargetID: target, IP: netip.MustParseAddr(purgedIP),
				UserAgent: purgedUA, Personal: map[string]string{audit.FieldEmail: purgedEmail, audit.FieldDestinationURL: purgedURL},
				Metadata: map[string]any{"n": i}})
			return err
		}))
	}
	var sealed []byte
	queryRow(t, conn, "SELECT personal FROM audit_log WHERE org_id = $1 AND target_id = 'a-1'", []any{id}, &sealed)
	require.NoError(t, inTenant(t, conn, id, func(tx pgx.Tx) error {
		key, err := sealer.Key(ctx, tx, id)
		require.NoError(t, err)
		p, err := key.Open("affiliate.invited", "affiliate", "a-1", sealed)
		require.NoError(t, err)
		require.Equal(t, purgedEmail, p.Fields[audit.FieldEmail])
		return nil
	}))
	for _, v := range []string{purgedIP, purgedUA, purgedURL} {
		require.Empty(t, tablesMentioning(t, conn, v), "%s is stored in plaintext before the purge", v)
	}
	require.Equal(t, []string{"affiliates"}, tablesMentioning(t, conn, purgedEmail), "only the affiliate's row holds the email")

	witnessed, _ := f.reconcile(t, org)
	require.NotNil(t, witnessed.Status.Audit)
	before := controllers.WitnessFromStatus(id, witnessed.Status.Audit)

	f.update(t, org, func(o *v1.Organization) {
		o.Annotations = map[string]string{controllers.PurgeNowAnnotation: "true"}
	})
	got, _ := f.reconcile(t, org)
	requireOrgCondition(t, got, v1.ConditionPurged, metav1.ConditionTrue, v1.ReasonPurged)

	var keys int
	queryRow(t, conn, "SELECT count(*) FROM org_data_keys WHERE org_id = $1", []any{id}, &keys)
	require.Zero(t, keys, "the data key is destroyed")
	var fate string
	var deleted int
	queryRow(t, conn, `SELECT metadata->>'data_key', (metadata->'deleted_rows'->>'org_data_keys')::int FROM audit_log
		WHERE org_id = $1 AND action = 'organization.purged'`, []any{id}, &fate, &deleted)
	require.Equal(t, "destroyed", fate)
	require.Equal(t, 1, deleted)

	for _, v := range []string{purgedEmail, purgedIP, purgedUA, purgedURL} {
		require.Empty(t, tablesMentioning(t, conn, v), "%s is left in the database", v)
	}
	var sealedAfter []byte
	queryRow(t, conn, "SELECT personal FROM audit_log WHERE org_id = $1 AND target_id = 'a-1'", []any{id}, &sealedAfter)
	require.Equal(t, sealed, sealedAfter, "the kept entry is as it was")

	v, err := audit.Verify(ctx, conn, id)
	require.NoError(t, err)
	require.True(t, v.OK(), v.Detail)
	disagreement, err := audit.CompareWitness(ctx, conn, before)
	require.NoError(t, err)
	require.Nil(t, disagreement, "the chain still agrees with the witness signed before the purge")

	require.NoError(t, inTenant(t, conn, id, func(tx pgx.Tx) error {
		key, err := sealer.Key(ctx, tx, id)
		require.Nil(t, key, "the key ring cannot give the data key back, even to a Sealer that held it")
		return err
	}))
	err = inTenant(t, conn, id, func(tx pgx.Tx) error {
		_, err := audit.NewSealer(ring, 0).Append(ctx, tx, id, audit.Entry{ActorType: audit.ActorAPIKey, ActorID: "key-1",
			Action: "affiliate.invited", TargetType: "affiliate", TargetID: "a-3", IP: netip.MustParseAddr(purgedIP)})
		return err
	})
	require.ErrorContains(t, err, "is purged: it gets no data key")
}
