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

package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rekomi/rekomi/app/audit"
	"github.com/rekomi/rekomi/app/trust"
)

// chainCheckInterval is how often every witnessed organization's audit
// chain is checked against its witness for /trust.
const chainCheckInterval = 10 * time.Minute

// chainCheck checks, in turn, the audit chain of every organization the
// operator witnesses: each must verify (audit.Verify) and agree with its
// signed witness (audit.CompareWitness), as GET /v1/audit-log/verify
// checks one. /trust states the latest outcome as counts; the failed
// organizations are logged, never published.
type chainCheck struct {
	s        *Server
	interval time.Duration
	last     atomic.Pointer[trust.AuditChains]
}

// run checks at once, then every interval, until ctx is done.
func (c *chainCheck) run(ctx context.Context) {
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		if out, err := c.s.checkAuditChains(ctx); err == nil {
			c.last.Store(&out)
		} else if ctx.Err() == nil {
			c.s.log.Warn("Cannot check the audit chains against their witnesses", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// latest is the outcome of the latest finished check.
func (c *chainCheck) latest() trust.AuditChains {
	if l := c.last.Load(); l != nil {
		return *l
	}
	return trust.AuditChains{Witnessed: c.s.cfg.AuditWitnessDir != "", IntervalSeconds: int(c.interval / time.Second)}
}

// checkAuditChains checks every organization that has a witness file. An
// error means no outcome: the directory could not be read, or ctx ended.
func (s *Server) checkAuditChains(ctx context.Context) (trust.AuditChains, error) {
	out := trust.AuditChains{Witnessed: s.cfg.AuditWitnessDir != "", IntervalSeconds: int(s.chains.interval / time.Second)}
	if !out.Witnessed {
		return out, nil
	}
	entries, err := os.ReadDir(s.cfg.AuditWitnessDir)
	if err != nil {
		return out, fmt.Errorf("listing the audit witnesses: %w", err)
	}
	for _, e := range entries {
		org, err := uuid.Parse(e.Name())
		if err != nil || org.String() != e.Name() {
			continue // the kubelet's ..data and timestamped entries
		}
		ok, err := s.checkAuditChain(ctx, org)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if errors.Is(err, errNoWitness) {
			continue
		}
		out.Checked++
		if !ok {
			out.Failed++
			s.log.Error("An organization's audit chain failed its check against the witness", "org_id", org.String(), "error", fmt.Sprint(err))
		}
	}
	at := s.now().UTC()
	out.CheckedAt = &at
	return out, nil
}

// checkAuditChain reports whether org's chain verifies and agrees with its
// witness; errNoWitness when it has none yet.
func (s *Server) checkAuditChain(ctx context.Context, org uuid.UUID) (bool, error) {
	w, err := s.loadAuditWitness(org)
	if err != nil {
		return false, err
	}
	ok := false
	err = s.db.TenantTx(ctx, org, func(tx pgx.Tx) error {
		v, err := audit.Verify(ctx, tx, org)
		if err != nil {
			return err
		}
		d, err := audit.CompareWitness(ctx, tx, w)
		if err != nil {
			return err
		}
		if v.BrokenSeq != 0 {
			return fmt.Errorf("the chain breaks at seq %d: %s", v.BrokenSeq, v.Detail)
		}
		if d != nil {
			return fmt.Errorf("the chain disagrees with its witness from seq %d", d.FirstSeq)
		}
		ok = true
		return nil
	})
	return ok, err
}
