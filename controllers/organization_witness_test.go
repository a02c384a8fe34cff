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
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/audit/audittest"
	"github.com/rekomi/rekomi/controllers"
)

// TestOrganizationWitnessesItsAuditLog proves that the operator records the
// head of each organization's audit chain in status.audit, signed with a
// key kept in the operator's namespace, follows the chain as it grows, and
// reports the owner role's rewrite of the chain at seq 1.
func TestOrganizationWitnessesItsAuditLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newOrgFixture(t)
	f.reconciler.OperatorNamespace = newNamespace(t)
	org := f.provision(t, f.newOrg(t))
	id := uuid.MustParse(org.Status.ID)
	conn := f.conn(t)

	secret := &corev1.Secret{}
	require.NoError(t, testEnv.client.Get(ctx, types.NamespacedName{Namespace: f.reconciler.OperatorNamespace, Name: controllers.WitnessSecretName}, secret))
	pub := ed25519.PublicKey(secret.Data[controllers.WitnessPublicKeyKey])
	witness := func(o *v1.Organization) audit.Witness {
		t.Helper()
		require.NotNil(t, o.Status.Audit)
		w := controllers.WitnessFromStatus(id, o.Status.Audit)
		require.NoError(t, w.Verify(pub), "status.audit is signed with the witness key")
		return w
	}
	head := func() (int64, []byte) {
		t.Helper()
		var seq int64
		var hash []byte
		queryRow(t, conn, "SELECT seq, hash FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT 1", []any{id}, &seq, &hash)
		return seq, hash
	}

	w := witness(org)
	seq, hash := head()
	require.Len(t, w.Checkpoints, 1)
	require.Equal(t, seq, w.Checkpoints[0].Seq, "the head of a new organization is witnessed at once")
	require.Equal(t, hash, w.Checkpoints[0].Hash)
	requireOrgCondition(t, org, v1.ConditionAuditWitnessed, metav1.ConditionTrue, v1.ReasonReconciled)

	for i := range 3 {
		_, err := audit.Append(ctx, conn, id, audit.Entry{ActorType: audit.ActorMember, ActorID: "m", Action: "campaign.created",
			TargetType: "campaign", TargetID: strings.Repeat("c", i+1)})
		require.NoError(t, err)
	}
	org, res := f.reconcile(t, org)
	require.Equal(t, time.Minute, res.RequeueAfter, "looked at again within a minute while entries may arrive")
	w = witness(org)
	seq, hash = head()
	require.Len(t, w.Checkpoints, 2)
	require.Equal(t, seq, w.Checkpoints[1].Seq)
	require.Equal(t, hash, w.Checkpoints[1].Hash)

	owner := f.rf.secret(t, controllers.OwnerSecretName(f.region.Name))
	audittest.RewriteAsOwner(t, string(owner.Data["url"]), id, seq)
	v, err := audit.Verify(ctx, conn, id)
	require.NoError(t, err)
	require.True(t, v.OK(), "the rewritten chain verifies on its own")

	f.drainEvents()
	org, _ = f.reconcile(t, org)
	c := requireOrgCondition(t, org, v1.ConditionAuditWitnessed, metav1.ConditionFalse, v1.ReasonAuditChainDiverged)
	require.Contains(t, c.Message, "departs from its witness from seq 1")
	requireOrgCondition(t, org, v1.ConditionReady, metav1.ConditionFalse, v1.ReasonAuditChainDiverged)
	require.Contains(t, strings.Join(f.drainEvents(), "\n"), "Warning AuditChainDiverged")
	require.Equal(t, w.Checkpoints, witness(org).Checkpoints, "nothing is witnessed over a rewritten chain")
}
