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

package controllers

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rekomiv1 "github.com/rekomi/rekomi/api/v1alpha1"
	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/db"
)

// WitnessSecretName is the Secret in the operator's namespace that holds
// the Ed25519 key the operator signs audit witnesses with: its seed under
// witnessSeedKey and its public key under WitnessPublicKeyKey. The Region
// databases never hold it.
const WitnessSecretName = "rekomi-audit-witness"

// Keys of the witness Secret.
const (
	witnessSeedKey      = "ed25519-seed"
	WitnessPublicKeyKey = "ed25519-public-key"
)

// witnessInterval is how often an organization's audit head is witnessed
// while entries arrive; witnessKeep how many checkpoints status.audit keeps
// (the first and the newest others).
const (
	witnessInterval = time.Minute
	witnessKeep     = 11
)

// witnessKeyCache holds the witness key once read.
type witnessKeyCache struct {
	mu  sync.Mutex
	key ed25519.PrivateKey
}

// witnessKey reads the witness key from its Secret, creating both when
// absent.
func (r *OrganizationReconciler) witnessKey(ctx context.Context) (ed25519.PrivateKey, error) {
	if r.witness == nil {
		r.witness = &witnessKeyCache{}
	}
	c := r.witness
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.key != nil {
		return c.key, nil
	}
	key, err := ensureWitnessKey(ctx, r.Client, r.Rand, r.OperatorNamespace)
	if err != nil {
		return nil, err
	}
	c.key = key
	return key, nil
}

// ensureWitnessKey reads the witness key from its Secret in namespace,
// creating both when absent. The Organization reconciler signs with it;
// the Region reconciler hands its public half to the apps.
func ensureWitnessKey(ctx context.Context, c client.Client, rand io.Reader, namespace string) (ed25519.PrivateKey, error) {
	key, err := loadWitnessKey(ctx, c, namespace)
	if apierrors.IsNotFound(err) {
		key, err = createWitnessKey(ctx, c, rand, namespace)
	}
	if apierrors.IsAlreadyExists(err) {
		key, err = loadWitnessKey(ctx, c, namespace) // another reconciler or replica made it first
	}
	return key, err
}

func loadWitnessKey(ctx context.Context, c client.Client, namespace string) (ed25519.PrivateKey, error) {
	secret := &corev1.Secret{}
	name := types.NamespacedName{Namespace: namespace, Name: WitnessSecretName}
	if err := c.Get(ctx, name, secret); err != nil {
		return nil, err
	}
	seed := secret.Data[witnessSeedKey]
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("Secret %s: %q must hold %d bytes, not %d", name, witnessSeedKey, ed25519.SeedSize, len(seed))
	}
	key := ed25519.NewKeyFromSeed(seed)
	if pub := secret.Data[WitnessPublicKeyKey]; !bytes.Equal(pub, key.Public().(ed25519.PublicKey)) {
		return nil, fmt.Errorf("Secret %s: %q is not the public key of %q", name, WitnessPublicKeyKey, witnessSeedKey)
	}
	return key, nil
}

func createWitnessKey(ctx context.Context, c client.Client, rand io.Reader, namespace string) (ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("drawing the audit witness key: %w", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: WitnessSecretName,
			Labels: map[string]string{rekomiv1.WatchLabel: "true"}},
		Data: map[string][]byte{witnessSeedKey: seed, WitnessPublicKeyKey: key.Public().(ed25519.PublicKey)},
	}
	if err := c.Create(ctx, secret); err != nil {
		return nil, fmt.Errorf("creating Secret %s/%s: %w", namespace, WitnessSecretName, err)
	}
	return key, nil
}

// witnessProblem is why an audit chain is not witnessed: the reason and
// message of a False AuditWitnessed condition.
type witnessProblem struct {
	reason  rekomiv1.ConditionReason
	message string
}

// witnessAudit checks the organization's audit chain against the heads
// witnessed so far and, when entries came since and follow them, witnesses
// the newest, and sets the AuditWitnessed condition. It returns the
// problem when the chain departs from its witness or is broken after it.
func (r *OrganizationReconciler) witnessAudit(ctx context.Context, org *rekomiv1.Organization, pool *db.DB, id uuid.UUID,
	now time.Time, conds *conditionSet) (*witnessProblem, error) {
	p, err := r.witnessChain(ctx, org, pool, id, now)
	if err != nil {
		return nil, err
	}
	if p != nil {
		conds.set(rekomiv1.ConditionAuditWitnessed, false, p.reason, p.message)
		return p, nil
	}
	if cps := org.Status.Audit; cps != nil && len(cps.Checkpoints) > 0 {
		last := cps.Checkpoints[len(cps.Checkpoints)-1]
		conds.set(rekomiv1.ConditionAuditWitnessed, true, rekomiv1.ReasonReconciled,
			fmt.Sprintf("seq %d witnessed at %s", last.Seq, last.WitnessedAt.UTC().Format(time.RFC3339)))
	}
	return nil, nil
}

// witnessChain does the work of witnessAudit, writing status.audit.
func (r *OrganizationReconciler) witnessChain(ctx context.Context, org *rekomiv1.Organization, pool *db.DB, id uuid.UUID,
	now time.Time) (*witnessProblem, error) {
	key, err := r.witnessKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the audit witness key: %w", err)
	}
	w := WitnessFromStatus(id, org.Status.Audit)
	if len(w.Checkpoints) > 0 {
		if err := w.Verify(key.Public().(ed25519.PublicKey)); err != nil {
			return &witnessProblem{rekomiv1.ReasonAuditChainDiverged,
				"status.audit does not verify with the witness key, so nothing is witnessed after it: " + oneLine(err)}, nil
		}
	}
	var d *audit.Disagreement
	var v audit.Verification
	err = pool.TenantTx(ctx, id, func(tx pgx.Tx) error {
		var err error
		if d, err = audit.CompareWitness(ctx, tx, w); err != nil || d != nil {
			return err
		}
		if n := len(w.Checkpoints); n > 0 {
			v, err = audit.VerifyAfter(ctx, tx, id, w.Checkpoints[n-1])
		} else {
			v, err = audit.Verify(ctx, tx, id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("checking the audit log of organization %s: %w", org.Name, err)
	}
	switch {
	case d != nil:
		return &witnessProblem{rekomiv1.ReasonAuditChainDiverged,
			fmt.Sprintf("the audit log departs from its witness from seq %d: %s", d.FirstSeq, d.Detail)}, nil
	case !v.OK():
		return &witnessProblem{rekomiv1.ReasonAuditChainBroken,
			fmt.Sprintf("the audit log is broken at seq %d (%s): %s", v.BrokenSeq, v.Problem, v.Detail)}, nil
	}
	if n := len(w.Checkpoints); v.Verified > 0 && (n == 0 || v.Verified > w.Checkpoints[n-1].Seq) {
		if w, err = w.Witnessed(audit.Checkpoint{Seq: v.Verified, Hash: v.Head, At: now}, witnessKeep, key); err != nil {
			return nil, err
		}
		org.Status.Audit = WitnessToStatus(w)
	}
	return nil, nil
}

// WitnessFromStatus is the witness status.audit holds for organization id,
// as `rekomi audit verify --witness` reads it.
func WitnessFromStatus(id uuid.UUID, s *rekomiv1.AuditWitness) audit.Witness {
	w := audit.Witness{OrgID: id}
	if s == nil {
		return w
	}
	w.KeyID, w.Signature = s.KeyID, s.Signature
	for _, c := range s.Checkpoints {
		w.Checkpoints = append(w.Checkpoints, audit.Checkpoint{Seq: c.Seq, Hash: c.Hash, At: c.WitnessedAt.UTC()})
	}
	return w
}

// WitnessToStatus is w as status.audit holds it. Times are whole seconds,
// as metav1.Time keeps them, so that the signature still covers them.
func WitnessToStatus(w audit.Witness) *rekomiv1.AuditWitness {
	s := &rekomiv1.AuditWitness{KeyID: w.KeyID, Signature: w.Signature}
	for _, c := range w.Checkpoints {
		s.Checkpoints = append(s.Checkpoints, rekomiv1.AuditCheckpoint{Seq: c.Seq, Hash: c.Hash, WitnessedAt: metav1.Time{Time: c.At}})
	}
	return s
}
